"""Human handoff on the end user's side: asking for a person, and talking to one.

A creator takes a conversation over from the manager bot (:mod:`bots.handoff`); the
conversation is then in the ``handoff`` state and its context says whose manager chat
took it (:data:`TAKEN_BY`). While it is there the bot stays silent: the engine stores the
user's messages as usual and :class:`CreatorLine` relays them to that chat. A user who
asks for a person (``/human``, or plainly in words) gets their bot's creator told in the
manager bot, at most once an hour per conversation, so nobody can flood a creator.

Messages to creators go through the same :class:`~core.outbox.Outbox` as everything
pushed outside a turn, so they leave from whichever process stored the turn.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bots.profile import BotProfile
from bots.registry import MANAGER_ID
from core.conversation.turn import TurnResult
from core.i18n.translator import ENGLISH, N_, Translator, translator
from core.messages import AttachmentKind, Channel, InboundMessage, OutboundMessage
from core.outbox import Address, Outbox

log = logging.getLogger("chorus.handoff")

#: context key of a conversation in handoff: the manager chat that took it over
TAKEN_BY = "handoff"
#: context key: when (epoch seconds) the creator was last told the user wants a person
ASKED_AT = "human_asked_at"
#: a user's requests for a person reach the creator at most this often (seconds)
ASK_INTERVAL = 3600.0
#: the manager bot, where creators are reached, is a Telegram bot
MANAGER_CHANNEL = Channel.TELEGRAM.value

CHANNEL_NAMES = {
    Channel.TELEGRAM.value: N_("Telegram"),
    Channel.WHATSAPP.value: N_("WhatsApp"),
    Channel.WIDGET.value: N_("the website chat"),
    Channel.TERMINAL.value: N_("the terminal"),
    Channel.API.value: N_("the API"),
}
#: what a user sent besides text, for the creator: a whole phrase per kind
_SENT = {
    AttachmentKind.VOICE: N_("[sent a voice note]"),
    AttachmentKind.AUDIO: N_("[sent an audio file]"),
    AttachmentKind.DOCUMENT: N_("[sent a document]"),
    AttachmentKind.IMAGE: N_("[sent a picture]"),
    AttachmentKind.LOCATION: N_("[sent a location]"),
}

# Only plain, first-person requests count: "talk to a real person" can also be the
# purpose of a meditation, so the wording must ask for one, not merely mention one.
_PERSON = r"(?:a |an |some |the |your )?(?:real |actual |live )?(?:human(?: being)?|person)"
_ASKS = re.compile(
    r"^(?:hi |hello |hey |please |pls |ok |okay )*(?:"
    rf"(?:can|could|may) i (?:please )?(?:talk|speak|chat) (?:to|with) {_PERSON}"
    rf"|i(?:'d| would)? (?:like|want|need|wanna) (?:to )?(?:talk|speak|chat) (?:to|with) {_PERSON}"
    rf"|let me (?:talk|speak|chat) (?:to|with) {_PERSON}"
    rf"|(?:talk|speak|chat) (?:to|with) {_PERSON}"
    rf"|(?:connect|put|transfer|pass) me (?:through )?(?:to|with) {_PERSON}"
    rf"|i want {_PERSON}"
    rf"|{_PERSON} (?:please|pls)"  # on its own, "human" may answer a question
    r")(?: please| pls| now| instead)*$"
)


def asks_for_human(text: str) -> bool:
    """Whether ``text`` plainly asks to talk to a person ("talk to a human", "can I speak
    to a real person?"); mentions of people in other sentences do not count."""
    words = re.sub(r"[^\w\s']", " ", text.lower().replace("’", "'"))
    return bool(_ASKS.match(" ".join(words.split())))


def taken_by(context: Mapping[str, Any]) -> Address | None:
    """The manager chat of the creator who took this conversation over, if one did."""
    chat = context.get(TAKEN_BY)
    if not isinstance(chat, Mapping):
        return None
    channel, sender_id = chat.get("channel"), chat.get("sender_id")
    if not isinstance(channel, str) or not isinstance(sender_id, str):
        return None
    return Address(MANAGER_ID, channel, sender_id)


def user_label(name: str | None, number: int, channel: str, tr: Translator = ENGLISH) -> str:
    """How a creator sees one of their users: name, user number and channel, in
    ``tr``'s language."""
    where = tr.gettext(CHANNEL_NAMES[channel]) if channel in CHANNEL_NAMES else channel
    if name:
        return tr.gettext(
            "%(name)s (#%(number)s, %(channel)s)", name=name, number=number, channel=where
        )
    return tr.gettext("A user (#%(number)s, %(channel)s)", number=number, channel=where)


@dataclass(frozen=True, slots=True)
class CreatorNote:
    """Words for a creator's manager chat, sent once the turn that caused them is stored
    (only then is a new user's number known). ``asked``: the user wants a person;
    otherwise they said ``text`` during a handoff."""

    chats: tuple[Address, ...]
    text: str
    asked: bool = False
    language: str | None = None  # the creator's, when known (they took the user over)


class CreatorLine:
    """Carries end users' words to their bot's creator in the manager bot.

    ``outbox`` is None where there is no manager bot: nobody can then be reached, and a
    user asking for a person is told so.
    """

    def __init__(self, outbox: Outbox | None, *, clock: Callable[[], float] = time.time) -> None:
        self._outbox = outbox
        self._clock = clock

    def chats(self, bot: BotProfile) -> tuple[Address, ...]:
        """The manager-bot chats of the bot's creator (none without a manager bot)."""
        if self._outbox is None:
            return ()
        return tuple(
            Address(MANAGER_ID, channel, external_id)
            for channel, external_id in sorted(bot.creator_identities)
            if channel == MANAGER_CHANNEL
        )

    def relay(
        self, context: Mapping[str, Any], text: str, message: InboundMessage
    ) -> CreatorNote | None:
        """What a user said during a handoff, for the creator who took it over."""
        chat = taken_by(context)
        if chat is None or self._outbox is None:
            return None
        taken = context.get(TAKEN_BY)
        language = taken.get("language") if isinstance(taken, Mapping) else None
        language = language if isinstance(language, str) else None
        return CreatorNote((chat,), _said(text, message, translator(language)), language=language)

    def ask(self, bot: BotProfile, result: TurnResult, text: str) -> CreatorNote | None:
        """A user asked for a person: tell them what happens and, unless the creator was
        told within the hour, the note that tells the creator."""
        tr = result.tr
        chats = self.chats(bot)
        if not chats:
            result.say(
                tr.gettext(
                    "I'm sorry, I can't reach a person from %(bot)s from here. "
                    "I'm glad to help with anything I can.",
                    bot=bot.name,
                )
            )
            return None
        now = self._clock()
        last = result.context.get(ASKED_AT)
        if isinstance(last, int | float) and 0 <= now - last < ASK_INTERVAL:
            result.say(
                tr.gettext(
                    "I've already let %(bot)s's creator know you'd like to talk to a person. "
                    "They'll answer you here as soon as they can.",
                    bot=bot.name,
                )
            )
            return None
        result.context[ASKED_AT] = now
        result.say(
            tr.gettext(
                "I've let %(bot)s's creator know you'd like to talk to a person. They'll "
                "answer you here as soon as they can; until then, I'm still here to help.",
                bot=bot.name,
            )
        )
        # the creator's own language is not kept; the bot's default is the one they chose
        return CreatorNote(chats, text, asked=True, language=bot.languages.default)

    async def send(
        self, note: CreatorNote, bot: BotProfile, number: int, message: InboundMessage
    ) -> None:
        """Send ``note`` about user ``number`` (who sent ``message``) to the creator."""
        if self._outbox is None:
            return
        tr = translator(note.language)
        who = user_label(message.sender_name, number, message.channel.value, tr)
        if note.asked:
            asked = (
                tr.gettext(
                    "🙋 %(who)s would like to talk to a person, on %(bot)s: “%(said)s”",
                    who=who,
                    bot=bot.name,
                    said=note.text,
                )
                if note.text
                else tr.gettext(
                    "🙋 %(who)s would like to talk to a person, on %(bot)s.", who=who, bot=bot.name
                )
            )
            how = tr.gettext("Send /takeover %(number)s to answer them yourself.", number=number)
            text = f"{asked}\n{how}"
        else:
            text = f"💬 {who}: {note.text}"
        for chat in note.chats:
            if not await self._outbox.send(chat, [OutboundMessage(text=text)]):
                log.warning("a message for the creator of bot %s was not delivered", bot.id)


def _said(text: str, message: InboundMessage, tr: Translator) -> str:
    """A user's message in words for the creator: its text, and what it carried."""
    kinds = [a.kind for a in message.attachments]
    if text and AttachmentKind.VOICE in kinds and not message.text:
        return f"🎙 {text}"  # a voice note, as it was transcribed
    carried = [tr.gettext(_SENT[kind]) for kind in dict.fromkeys(kinds) if kind in _SENT]
    if carried:
        return " ".join([text, *carried] if text else carried)
    if not text and message.button_payload is not None:
        return tr.gettext("[pressed a button]")
    return text or tr.gettext("[an empty message]")
