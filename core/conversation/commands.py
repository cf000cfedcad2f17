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
from core.i18n.translator import ENGLISH, N_, Translator, translator
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

# /create while a flow is on: one whole sentence per content type (see core.i18n)
_BUSY = {
    ContentType.MEDITATION: N_(
        "We're in the middle of making your guided meditation. Answer the question above, "
        "or /cancel to start over."
    ),
    ContentType.AFFIRMATIONS: N_(
        "We're in the middle of making your set of affirmations. Answer the question above, "
        "or /cancel to start over."
    ),
    ContentType.RITUAL: N_(
        "We're in the middle of making your ritual. Answer the question above, "
        "or /cancel to start over."
    ),
}
_BUSY_WITHOUT_FLOW = N_(
    "We're in the middle of making something. Answer the question above, or /cancel to start over."
)
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
VOICE_HELP = N_(
    "/voice on or /voice off: audio alongside text.\n"
    "/voice speed slow|normal|fast, /voice pitch low|normal|high, "
    "/voice name en-gb (a voice or language code)."
)
#: /help, a line each (a line is a message of its own: the commands stay as they are)
HELP = (
    N_("Here's what I can do:"),
    N_("• Ask me a question and I'll answer from %(bot)s's material, with sources."),
    N_("• /create: make a personalised guided meditation, affirmations or a ritual."),
    N_("• /library: everything I've made for you (/library 2 opens the second one)."),
    N_("• /voice on or /voice off: spoken replies as well as text (/voice for speed and pitch)."),
    N_("• /language: show or set your language, e.g. /language es."),
    N_("• /credits: your credits, /buy: buy more."),
    N_("• /link: one account with your chat on another app (WhatsApp, Telegram, the website)."),
    N_("• /human: ask for a person from %(bot)s to answer you."),
    N_("• /timezone: show or set your time zone, e.g. /timezone Paris or /timezone 14:30."),
    N_("• /stop: no more announcements or scheduled messages, /subscribe: get them again."),
    N_("• /export: everything I keep about you, as a file. /forget: delete it all."),
    N_("• /cancel: stop what we're doing. /start: begin again."),
)
#: the lines of HELP about guided creation, left out where the creator switched it off
CREATION_HELP = frozenset(HELP[2:4])


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
        tr: Translator = ENGLISH,
    ) -> CommandOutcome:
        """Run ``/name args``, the replies written with ``tr``."""
        result = TurnResult.begin(state, context, tr)
        outcome = CommandOutcome(result)
        if name == "start" and args.startswith(("paid_", "unpaid_")) and wallet is not None:
            # back from Stripe Checkout through a deep link: keep the conversation as it is
            result.replies += await wallet.command("checkout", args)
        elif name == "start":
            result.move(Event.START)
            result.context.pop("flow", None)
            result.say(bot.welcome, menu(bot, tr))
        elif name == "help":
            result.say(help_text(bot, tr))
        elif name == "cancel":
            if state in FLOW_STATES:
                result.move(Event.CANCEL)
                result.context.pop("flow", None)
                result.say(
                    tr.gettext("Cancelled. Ask me anything, or start something new."),
                    menu(bot, tr),
                )
            else:
                result.say(tr.gettext("There's nothing to cancel right now."))
        elif name == "create" and not bot.features.create:
            result.say(not_offered(bot, tr))
        elif name == "create":
            self._create(args, state, result, outcome)
        elif name == "library":
            await self._library(args, bot, party, result)
        elif name in ("credits", "buy") and wallet is not None:
            result.replies += await wallet.command(name, args)
        elif name == "credits":
            result.say(
                tr.gettext(
                    "%(bot)s doesn't use credits yet, so everything I make for you is free "
                    "for now.",
                    bot=bot.name,
                )
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
            result.say(
                tr.gettext(
                    "I don't know the command /%(command)s. /help lists what I can do.",
                    command=name,
                )
            )
        return outcome

    def _create(self, args: str, state: State, result: TurnResult, outcome: CommandOutcome) -> None:
        if state in FLOW_STATES:
            flow = result.context.get("flow")
            busy = _BUSY[ContentType(flow["type"])] if flow else _BUSY_WITHOUT_FLOW
            result.say(result.tr.gettext(busy))
            return
        wanted = reading.content_type_in(args, hints=False)  # "/create méditation" too
        outcome.dialogue_payload = f"type:{wanted.value}" if wanted else "flow:create"

    async def _library(
        self, args: str, bot: BotProfile, party: Party | None, result: TurnResult
    ) -> None:
        tr = result.tr
        items = []
        if party is not None:
            async with self._db.read() as session:
                items = await repo.library(session, party.end_user_id)
        if not items:
            result.say(
                tr.gettext(
                    "Your library is empty. /create makes your first meditation, affirmations "
                    "or ritual."
                )
                if bot.features.create
                else tr.gettext("Your library is empty.")
            )
            return
        if args.strip().isdigit():
            number = int(args.strip())
            if not 1 <= number <= len(items):
                result.say(tr.gettext("Pick a number from 1 to %(last)s.", last=len(items)))
                return
            await self._open(items[number - 1], result)
            return
        lines = [tr.gettext("Your library, newest first:")]
        lines += [_library_line(tr, n, item) for n, item in enumerate(items, 1)]
        lines.append(tr.gettext("Send /library followed by a number to open one."))
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
        tr = result.tr
        words = args.strip().lower().split()
        preferences = dict(party.voice_preferences) if party else {}
        if words in (["on"], ["off"]):
            outcome.user_updates["voice_enabled"] = words[0] == "on"
            if words[0] == "off":
                return result.say(tr.gettext("Voice replies are off: text only."))
            if not self._speech:
                return result.say(
                    tr.gettext(
                        "Voice replies are on, but speech isn't available on this server, "
                        "so you'll get text for now."
                    )
                )
            return result.say(tr.gettext("Voice replies are on: I'll send audio alongside text."))
        choices = {"speed": SPEEDS, "pitch": PITCHES}
        if len(words) == 2 and words[0] in choices and words[1] in choices[words[0]]:
            preferences[words[0]] = words[1]
        elif len(words) == 2 and words[0] == "name" and _VOICE_NAME.match(words[1]):
            preferences["voice"] = words[1]
        elif words:
            return result.say(tr.gettext(VOICE_HELP))
        else:
            on = bool(party and party.voice_enabled)
            # the settings are words the user types (/voice speed slow): not translated
            settings = ", ".join(f"{k} {v}" for k, v in sorted(preferences.items()))
            if settings:
                status = (
                    tr.gettext("Spoken replies are on (%(settings)s).", settings=settings)
                    if on
                    else tr.gettext("Spoken replies are off (%(settings)s).", settings=settings)
                )
            else:
                status = (
                    tr.gettext("Spoken replies are on.")
                    if on
                    else tr.gettext("Spoken replies are off.")
                )
            return result.say(f"{status}\n{tr.gettext(VOICE_HELP)}")
        outcome.user_updates["voice_preferences"] = preferences
        result.say(
            tr.gettext(
                "Done: %(setting)s. It applies to everything I say from now on.",
                setting=f"{words[0]} {words[1]}",
            )
        )

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
        tr = result.tr
        offered = bot.languages.offered
        listing = "\n".join(f"• {code}: {native_name(code)}" for code in offered)
        example = offered[1] if len(offered) > 1 else offered[0]

        def choices(lead: str) -> str:
            how = tr.gettext(
                "Choose with /language followed by a code, for example /language %(code)s.",
                code=example,
            )
            speak = tr.gettext("I speak:")
            return f"{lead}\n{speak}\n{listing}\n{how}"

        wanted = args.strip()
        if not wanted:
            mine = stored_language(party)
            speaking = bot.languages.resolve(mine)
            if mine is not None and mine != speaking:
                current = tr.gettext(
                    "Your language is %(mine)s. I speak to you in %(language)s (%(code)s).",
                    mine=mine,
                    language=native_name(speaking),
                    code=speaking,
                )
            else:
                current = tr.gettext(
                    "I speak to you in %(language)s (%(code)s).",
                    language=native_name(speaking),
                    code=speaking,
                )
            if party is not None and party.language_source == CHOSEN:
                current += "\n" + tr.gettext(
                    "You chose it; /language auto lets your app decide again."
                )
            return result.say(choices(current))
        if wanted.lower() == "auto":
            outcome.user_updates.update(language=None, language_source=None)
            return result.say(
                tr.gettext(
                    "Done: I'll follow your app's language, or the one you write in. "
                    "Until I know it, I speak %(language)s.",
                    language=native_name(bot.languages.default),
                )
            )
        code = normalise(wanted)
        if code is None or not is_known(code):
            return result.say(
                choices(
                    tr.gettext("%(code)s isn't a language code I know.", code=repr(wanted[:20]))
                )
            )
        found = matching(code, offered)
        if found is None:
            return result.say(
                choices(
                    tr.gettext(
                        "I don't speak %(language)s (%(code)s) here.",
                        language=native_name(code),
                        code=code,
                    )
                )
            )
        outcome.user_updates.update(language=code, language_source=CHOSEN)
        # from now on in the language chosen, this reply included
        result.tr = tr = translator(found)
        result.say(
            tr.gettext(
                "Language set to %(code)s. I speak %(language)s (%(found)s) with you.",
                code=code,
                language=native_name(found),
                found=found,
            )
        )

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
        tr = result.tr
        user = await self._user(party)
        subscribed = user is None or user.opted_out_at is None
        if wanted:
            if not subscribed:
                outcome.user_updates["opted_out_at"] = None
            return result.say(
                tr.gettext(
                    "You're subscribed: %(bot)s's announcements and scheduled messages "
                    "reach you. /stop ends them.",
                    bot=bot.name,
                )
            )
        if subscribed:
            outcome.user_updates["opted_out_at"] = self._clock()
        result.say(
            tr.gettext(
                "Done: no more announcements or scheduled messages from %(bot)s. You can "
                "still talk to me whenever you like. Changed your mind? Send /subscribe.",
                bot=bot.name,
            )
        )

    async def _timezone(
        self, args: str, party: Party | None, result: TurnResult, outcome: CommandOutcome
    ) -> None:
        tr = result.tr
        now = self._clock()
        how = tr.gettext(
            "Send /timezone with your city (/timezone Paris), a zone (/timezone "
            "Europe/Paris) or the time on your clock (/timezone 14:30)."
        )
        if not args.strip():
            user = await self._user(party)
            if user is None or not user.timezone:
                said = tr.gettext(
                    "I don't know your time zone, so scheduled messages reach you by my best guess."
                )
                return result.say(f"{said} {how}")
            said = tr.gettext(
                "Your time zone is %(zone)s: it's %(time)s there.",
                zone=described(user.timezone, now),
                time=_clock(user.timezone, now),
            )
            return result.say(f"{said} {how}")
        choice = choose(args, now)
        if choice is None:
            said = tr.gettext("I don't know the time zone %(zone)s.", zone=repr(args.strip()[:40]))
            return result.say(f"{said} {how}")
        outcome.user_updates["timezone"] = choice.zone
        zone, time = described(choice.zone, now), _clock(choice.zone, now)
        if not choice.fixed:
            return result.say(
                tr.gettext(
                    "Time zone set to %(zone)s: it's %(time)s there. Scheduled messages reach "
                    "you by this clock.",
                    zone=zone,
                    time=time,
                )
            )
        result.say(
            tr.gettext(
                "Time zone set to %(zone)s: it's %(time)s for you. That offset doesn't change "
                "with daylight saving time: to follow it, send your city instead, like "
                "/timezone Paris.",
                zone=zone,
                time=time,
            )
        )


def help_text(bot: BotProfile, tr: Translator = ENGLISH) -> str:
    """/help for this bot: what it offers, without guided creation where it is off."""
    lines = [line for line in HELP if bot.features.create or line not in CREATION_HELP]
    return "\n".join(tr.gettext(line, bot=bot.name) for line in lines)


def _library_line(tr: Translator, number: int, item: ContentItem) -> str:
    """``2. Evening calm (07 Dec 2026), audio 10 min``."""
    day = tr.day(item.created_at)
    if not item.audio:
        return tr.gettext(
            "%(number)s. %(title)s (%(day)s)", number=number, title=item.title, day=day
        )
    return tr.gettext(
        "%(number)s. %(title)s (%(day)s), audio %(minutes)s min",
        number=number,
        title=item.title,
        day=day,
        minutes=f"{item.audio['duration'] / 60:.0f}",
    )


def _clock(zone: str, now: datetime) -> str:
    """The time of day in ``zone`` at ``now``, ``14:30``."""
    return f"{now.astimezone(ZoneInfo(zone)):%H:%M}"
