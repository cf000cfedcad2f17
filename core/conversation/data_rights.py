"""An end user's data rights in the chat: ``/export`` and ``/forget``.

``/export`` sends everything kept about the user as one JSON file. ``/forget`` deletes it
all, but asks first: Yes and No buttons, or typing yes or no, within
:data:`CONFIRM_SECONDS`. The question is kept in the conversation's context and lapses
as soon as the user says anything else, so a "yes" meant for another question never
deletes anything. The engine routes answers here with :func:`answer_to_forget` and
drops a lapsed question with :func:`without_question`; the work itself is
:class:`core.people.privacy.EndUserData`'s.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from bots.profile import BotProfile
from core.conversation.guided import labelled
from core.conversation.reading import fold, is_cancel
from core.conversation.turn import TurnResult
from core.i18n.translator import N_
from core.messages import Button, OutboundKind, OutboundMessage
from core.people.privacy import EndUserData, Erasure, export_key
from core.storage.repository import Party

#: where a pending /forget question is kept in the conversation's context
QUESTION = "forget"
CONFIRM_SECONDS = 10 * 60
YES, NO = "yes", "no"
YES_WORDS = frozenset(
    {"yes", "y", "yes please", "delete", "delete it", "delete everything", "yes delete everything"}
)
NO_WORDS = frozenset({"no", "n", "nope", "no thanks", "keep", "keep it", "no keep it"})
BUTTONS = (
    Button(N_("Yes, delete everything"), f"{QUESTION}:{YES}"),
    Button(N_("No, keep it"), f"{QUESTION}:{NO}"),
)
OUT_OF_REACH = N_(
    "Stripe keeps its own record of any payment you made, and a plan you subscribed to "
    "stays active until you cancel it with Stripe; the app you chat in may keep its own "
    "copy of our messages. Those are out of my reach."
)


def answer_to_forget(context: Mapping[str, Any], text: str, payload: str | None) -> str | None:
    """``yes`` or ``no`` when a message answers the /forget question (a button of it, or
    typed words while it is pending), else None."""
    if payload is not None:
        prefix = f"{QUESTION}:"
        return payload.removeprefix(prefix) if payload.startswith(prefix) else None
    if QUESTION not in context:
        return None
    words = fold(text)
    return YES if words in YES_WORDS else NO if words in NO_WORDS or is_cancel(text) else None


def without_question(context: dict[str, Any]) -> dict[str, Any]:
    """The context with any pending /forget question dropped (another message came)."""
    if QUESTION not in context:
        return context
    return {k: v for k, v in context.items() if k != QUESTION}


class DataRights:
    """Runs ``/export`` and ``/forget`` for the user of a turn."""

    def __init__(self, data: EndUserData, *, clock: Callable[[], float] = time.time) -> None:
        self._data = data
        self._clock = clock

    async def export(self, bot: BotProfile, party: Party | None, result: TurnResult) -> None:
        """Send the user's data as a JSON file (what was stored before this message)."""
        tr = result.tr
        document = await self._data.export(party.end_user_id) if party else None
        if party is None or document is None:
            return result.say(tr.gettext("I don't keep anything about you yet."))
        media = self._data.media
        if media is None:
            return result.say(
                tr.gettext("I can't send files from this server, so I can't export here.")
            )
        text = await asyncio.to_thread(json.dumps, document, ensure_ascii=False, indent=2)
        file = await media.save_text(
            text + "\n",
            key=export_key(party.end_user_id),
            title=tr.gettext("%(bot)s my data", bot=bot.name),
            extension="json",
        )
        result.replies.append(
            OutboundMessage(
                text=tr.gettext(
                    "Everything I keep about you: your settings, our conversation, your "
                    "library, your credits and payments. /forget deletes it all."
                ),
                kind=OutboundKind.DOCUMENT,
                document=file,
            )
        )

    async def forget(
        self, args: str, bot: BotProfile, party: Party | None, result: TurnResult
    ) -> Erasure | None:
        """Ask before deleting, then delete on yes; returns the erasure once done (the
        turn must then store nothing: there is nobody left to store it for)."""
        tr = result.tr
        if party is None:
            result.say(tr.gettext("I don't keep anything about you, so there's nothing to delete."))
            return Erasure()
        answer = fold(args)
        asked = result.context.pop(QUESTION, None)
        if answer == NO:
            result.say(tr.gettext("Good: nothing was deleted."))
            return None
        if answer != YES or not asked:
            self._ask(result)
            return None
        if self._clock() - float(asked.get("asked", 0)) > CONFIRM_SECONDS:
            intro = tr.gettext("That question expired, so here it is again.")
            self._ask(result, intro=f"{intro}\n\n")
            return None
        if await self._data.unfinished_jobs(party.end_user_id):
            result.say(
                tr.gettext(
                    "I'm still making something for you. Once it has arrived, send /forget "
                    "again and I'll delete everything."
                )
            )
            return None
        erasure = await self._data.erase(party.end_user_id)
        result.say(
            tr.gettext(
                "Done. I've deleted everything I kept about you: our conversation, your "
                "library and its audio, your credits and payment records, and your settings. "
                "%(out_of_reach)s If you write to me again, we'll start afresh.",
                out_of_reach=tr.gettext(OUT_OF_REACH),
            )
        )
        return erasure

    def _ask(self, result: TurnResult, intro: str = "") -> None:
        tr = result.tr
        result.context[QUESTION] = {"asked": self._clock()}
        minutes = CONFIRM_SECONDS // 60
        warning = tr.gettext(
            "This deletes everything I keep about you: our conversation, your "
            "library and its audio, your credits (any left are lost) with their payment "
            "records, and your settings. It can't be undone. %(out_of_reach)s",
            out_of_reach=tr.gettext(OUT_OF_REACH),
        )
        question = tr.ngettext(
            "Delete everything? Press a button or type yes or no (within %(count)s minute).",
            "Delete everything? Press a button or type yes or no (within %(count)s minutes).",
            minutes,
        )
        result.say(f"{intro}{warning}\n\n{question}", labelled(tr, BUTTONS))
