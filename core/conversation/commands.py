"""The commands an end user can send in any state: /start, /help, /cancel, /library...

/credits and /buy belong to billing, which hands the engine a wallet; /export and
/forget, the user's rights over their data, to :mod:`core.conversation.data_rights`; /link, one
account across apps, to :mod:`core.conversation.linking`. /stop and /subscribe say whether the user
wants the creator's announcements and scheduled messages; /timezone says when "08:00"
is for them. A command returns replies, at most one state-machine event and any change
to the user's preferences; the engine applies and stores them with the rest of the turn
(except after /forget erased the user: then nothing is stored; after /link joined the
chat to another account, the turn is stored there).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bots.profile import BotProfile
from core.content import ContentType
from core.conversation import reading
from core.conversation.data_rights import DataRights
from core.conversation.guided import menu, not_offered
from core.conversation.languages import CHOSEN, stored_language
from core.conversation.linking import Linked, Linking
from core.conversation.statemachine import Event, State
from core.conversation.turn import TurnResult, Wallet
from core.messages import OutboundKind, OutboundMessage
from core.outbox import Address
from core.people.privacy import EndUserData, Erasure, script_key
from core.people.timezones import choose, described
from core.storage import repository as repo
from core.storage.database import Database
from core.storage.media import MediaStore
from core.storage.models import ContentItem, EndUser, utcnow
from core.storage.repository import Party
from core.text import is_known, matching, native_name, normalise
from core.voice.voice_io import PITCHES, SPEEDS, library_media

FLOW_STATES = frozenset(
    {
        State.INTENT_DISCOVERY,
        State.CONTEXT_GATHERING,
        State.PRACTICE_DETAILS,
        State.CONFIRM,
        State.GENERATING,
        State.PAYWALL,
    }
)
_VOICE_NAME = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
VOICE_HELP = (
    "/voice on or /voice off: audio alongside text.\n"
    "/voice speed slow|normal|fast, /voice pitch low|normal|high, "
    "/voice name en-gb (a voice or language code)."
)
HELP = """Here's what I can do:
• Ask me a question and I'll answer from {name}'s material, with sources.
• /create: make a personalised guided meditation, affirmations or a ritual.
• /library: everything I've made for you (/library 2 opens the second one).
• /voice on or /voice off: spoken replies as well as text (/voice for speed and pitch).
• /language: the languages I speak, and set yours, e.g. /language es.
• /credits: your credits, /buy: buy more.
• /link: one account with your chat on another app (WhatsApp, Telegram, the website).
• /human: ask for a person from {name} to answer you.
• /timezone: show or set your time zone, e.g. /timezone Paris or /timezone 14:30.
• /stop: no more announcements or scheduled messages, /subscribe: get them again.
• /export: everything I keep about you, as a file. /forget: delete it all.
• /cancel: stop what we're doing. /start: begin again."""
#: the lines of HELP about guided creation, left out where the creator switched it off
CREATION_HELP = ("• /create:", "• /library:")


@dataclass(slots=True)
class CommandOutcome:
    """What a global command did: a turn result plus preference changes for the user."""

    result: TurnResult
    user_updates: dict[str, Any] = field(default_factory=dict)
    # set when the command is really a dialogue action, e.g. /create meditation
    dialogue_payload: str | None = None
    # set when /forget erased the user: the turn is not stored
    erased: Erasure | None = None
    # set when /link joined this chat to another account: the turn is stored there
    linked: Linked | None = None


class GlobalCommands:
    """Runs the commands that work the same in every state of a conversation."""

    def __init__(
        self,
        db: Database,
        media: MediaStore | None = None,
        *,
        speech: bool = False,
        privacy: EndUserData | None = None,
        clock: Callable[[], datetime] = utcnow,
        linking: Linking | None = None,
    ) -> None:
        self._db = db
        self._media = media
        self._speech = speech
        self._clock = clock
        self._rights = DataRights(privacy or EndUserData(db, media))
        self._linking = linking or Linking(db)

    async def run(
        self,
        name: str,
        args: str,
        *,
        bot: BotProfile,
        party: Party | None,
        state: State,
        context: dict[str, Any],
        wallet: Wallet | None = None,
        sender: Address | None = None,
    ) -> CommandOutcome:
        result = TurnResult.begin(state, context)
        outcome = CommandOutcome(result)
        if name == "start" and args.startswith(("paid_", "unpaid_")) and wallet is not None:
            # back from Stripe Checkout through a deep link: keep the conversation as it is
            result.replies += await wallet.command("checkout", args)
        elif name == "start":
            result.move(Event.START)
            result.context.pop("flow", None)
            result.say(bot.welcome, menu(bot))
        elif name == "help":
            result.say(help_text(bot))
        elif name == "cancel":
            if state in FLOW_STATES:
                result.move(Event.CANCEL)
                result.context.pop("flow", None)
                result.say("Cancelled. Ask me anything, or start something new.", menu(bot))
            else:
                result.say("There's nothing to cancel right now.")
        elif name == "create" and not bot.features.create:
            result.say(not_offered(bot))
        elif name == "create":
            self._create(args, state, result, outcome)
        elif name == "library":
            await self._library(args, bot, party, result)
        elif name in ("credits", "buy") and wallet is not None:
            result.replies += await wallet.command(name, args)
        elif name == "credits":
            result.say(
                f"{bot.name} doesn't use credits yet, so everything I make for you is free for now."
            )
        elif name == "voice":
            self._voice(args, party, result, outcome)
        elif name == "language":
            self._language(args, bot, party, result, outcome)
        elif name in ("stop", "subscribe"):
            await self._subscription(name == "subscribe", bot, party, result, outcome)
        elif name == "timezone":
            await self._timezone(args, party, result, outcome)
        elif name == "export":
            await self._rights.export(bot, party, result)
        elif name == "forget":
            outcome.erased = await self._rights.forget(args, bot, party, result)
        elif name == "link" and sender is not None:
            outcome.linked = await self._linking.run(args, bot, sender, result)
            if outcome.linked is not None:  # the turn goes on in the conversation it joined
                joined = outcome.linked.party
                outcome.result = TurnResult.begin(State(joined.state), joined.context)
                outcome.result.replies = result.replies
        else:
            result.say(f"I don't know the command /{name}. /help lists what I can do.")
        return outcome

    def _create(self, args: str, state: State, result: TurnResult, outcome: CommandOutcome) -> None:
        if state in FLOW_STATES:
            flow = result.context.get("flow")
            what = ContentType(flow["type"]).label if flow else "something"
            result.say(
                f"We're in the middle of making your {what}. Answer the question "
                "above, or /cancel to start over."
            )
            return
        wanted = reading.content_type_in(args, hints=False)  # "/create méditation" too
        outcome.dialogue_payload = f"type:{wanted.value}" if wanted else "flow:create"

    async def _library(
        self, args: str, bot: BotProfile, party: Party | None, result: TurnResult
    ) -> None:
        items = []
        if party is not None:
            async with self._db.read() as session:
                items = await repo.library(session, party.end_user_id)
        if not items:
            result.say(
                "Your library is empty."
                + (
                    " /create makes your first meditation, affirmations or ritual."
                    if bot.features.create
                    else ""
                )
            )
            return
        if args.strip().isdigit():
            number = int(args.strip())
            if not 1 <= number <= len(items):
                result.say(f"Pick a number from 1 to {len(items)}.")
                return
            await self._open(items[number - 1], result)
            return
        lines = ["Your library, newest first:"]
        lines += [
            f"{n}. {item.title} ({item.created_at:%d %b %Y})"
            + (f", audio {item.audio['duration'] / 60:.0f} min" if item.audio else "")
            for n, item in enumerate(items, 1)
        ]
        lines.append("Send /library followed by a number to open one.")
        result.say("\n".join(lines))

    async def _open(self, item: ContentItem, result: TurnResult) -> None:
        """A library item again: its text, its audio, and the script as a file to keep."""
        result.say(f"{item.title}\n\n{item.text}")
        audio = library_media(item.audio, item.title)
        if audio is not None and self._media is not None and self._media.path(audio.reference):
            result.replies.append(
                OutboundMessage(text=item.title, kind=OutboundKind.AUDIO, audio=audio)
            )
        if self._media is not None:
            document = await self._media.save_text(
                f"{item.title}\n\n{item.text}\n", key=script_key(item.id), title=item.title
            )
            result.replies.append(OutboundMessage(kind=OutboundKind.DOCUMENT, document=document))

    def _voice(
        self, args: str, party: Party | None, result: TurnResult, outcome: CommandOutcome
    ) -> None:
        words = args.strip().lower().split()
        preferences = dict(party.voice_preferences) if party else {}
        if words in (["on"], ["off"]):
            outcome.user_updates["voice_enabled"] = words[0] == "on"
            if words[0] == "off":
                return result.say("Voice replies are off: text only.")
            if not self._speech:
                return result.say(
                    "Voice replies are on, but speech isn't available on this server, "
                    "so you'll get text for now."
                )
            return result.say("Voice replies are on: I'll send audio alongside text.")
        choices = {"speed": SPEEDS, "pitch": PITCHES}
        if len(words) == 2 and words[0] in choices and words[1] in choices[words[0]]:
            preferences[words[0]] = words[1]
        elif len(words) == 2 and words[0] == "name" and _VOICE_NAME.match(words[1]):
            preferences["voice"] = words[1]
        elif words:
            return result.say(VOICE_HELP)
        else:
            current = "on" if party and party.voice_enabled else "off"
            settings = ", ".join(f"{k} {v}" for k, v in sorted(preferences.items()))
            return result.say(
                f"Spoken replies are {current}"
                + (f" ({settings})" if settings else "")
                + ".\n"
                + VOICE_HELP
            )
        outcome.user_updates["voice_preferences"] = preferences
        result.say(f"Done: {words[0]} {words[1]}. It applies to everything I say from now on.")

    def _language(
        self,
        args: str,
        bot: BotProfile,
        party: Party | None,
        result: TurnResult,
        outcome: CommandOutcome,
    ) -> None:
        """``/language``: the languages the bot speaks, by their own names, and the
        user's; ``/language es`` chooses one (kept whatever their platform or text says
        later); ``/language auto`` lets the platform or their text decide again."""
        offered = bot.languages.offered
        listing = "\n".join(f"• {code}: {native_name(code)}" for code in offered)
        how = "Choose with /language followed by a code, for example /language " + (
            offered[1] if len(offered) > 1 else offered[0]
        )
        wanted = args.strip()
        if not wanted:
            mine = stored_language(party)
            speaking = bot.languages.resolve(mine)
            current = f"I speak to you in {native_name(speaking)} ({speaking})."
            if mine is not None and mine != speaking:
                current = f"Your language is {mine}. {current}"
            if party is not None and party.language_source == CHOSEN:
                current += " You chose it; /language auto lets your app decide again."
            return result.say(f"{current}\nI speak:\n{listing}\n{how}.")
        if wanted.lower() == "auto":
            outcome.user_updates.update(language=None, language_source=None)
            return result.say(
                "Done: I'll follow your app's language, or the one you write in. "
                f"Until I know it, I speak {native_name(bot.languages.default)}."
            )
        code = normalise(wanted)
        if code is None or not is_known(code):
            return result.say(
                f"{wanted[:20]!r} isn't a language code I know. I speak:\n{listing}\n{how}."
            )
        found = matching(code, offered)
        if found is None:
            return result.say(
                f"I don't speak {native_name(code)} ({code}) here. I speak:\n{listing}\n{how}."
            )
        outcome.user_updates.update(language=code, language_source=CHOSEN)
        result.say(f"Language set to {code}. I speak {native_name(found)} ({found}) with you.")

    async def _user(self, party: Party | None) -> EndUser | None:
        if party is None:
            return None
        async with self._db.read() as session:
            return await session.get(EndUser, party.end_user_id)

    async def _subscription(
        self,
        wanted: bool,
        bot: BotProfile,
        party: Party | None,
        result: TurnResult,
        outcome: CommandOutcome,
    ) -> None:
        user = await self._user(party)
        subscribed = user is None or user.opted_out_at is None
        if wanted:
            if not subscribed:
                outcome.user_updates["opted_out_at"] = None
            return result.say(
                f"You're subscribed: {bot.name}'s announcements and scheduled messages "
                "reach you. /stop ends them."
            )
        if subscribed:
            outcome.user_updates["opted_out_at"] = self._clock()
        result.say(
            f"Done: no more announcements or scheduled messages from {bot.name}. You can "
            "still talk to me whenever you like. Changed your mind? Send /subscribe."
        )

    async def _timezone(
        self, args: str, party: Party | None, result: TurnResult, outcome: CommandOutcome
    ) -> None:
        now = self._clock()
        how = (
            "Send /timezone with your city (/timezone Paris), a zone (/timezone "
            "Europe/Paris) or the time on your clock (/timezone 14:30)."
        )
        if not args.strip():
            user = await self._user(party)
            if user is None or not user.timezone:
                return result.say(
                    "I don't know your time zone, so scheduled messages reach you by my "
                    f"best guess. {how}"
                )
            return result.say(
                f"Your time zone is {described(user.timezone, now)}: it's "
                f"{_clock(user.timezone, now)} there. {how}"
            )
        choice = choose(args, now)
        if choice is None:
            return result.say(f"I don't know the time zone {args.strip()[:40]!r}. {how}")
        outcome.user_updates["timezone"] = choice.zone
        said = f"Time zone set to {described(choice.zone, now)}: it's {_clock(choice.zone, now)}"
        if not choice.fixed:
            return result.say(f"{said} there. Scheduled messages reach you by this clock.")
        result.say(
            f"{said} for you. That offset doesn't change with daylight saving time: to "
            "follow it, send your city instead, like /timezone Paris."
        )


def help_text(bot: BotProfile) -> str:
    """/help for this bot: what it offers, without guided creation where it is off."""
    lines = HELP.format(name=bot.name).splitlines()
    if not bot.features.create:
        lines = [line for line in lines if not line.startswith(CREATION_HELP)]
    return "\n".join(lines)


def _clock(zone: str, now: datetime) -> str:
    """The time of day in ``zone`` at ``now``, ``14:30``."""
    return f"{now.astimezone(ZoneInfo(zone)):%H:%M}"
