"""One turn of a conversation as the dialogue sees it: what came in and what it did.

:class:`TurnInput` is a user's message with the state it arrived in; :class:`TurnResult`
is what the turn decided, the new state and context, the replies, the state machine's
events on the way, and any content finished (:class:`CreatedContent`) or confirmed for the
studio (:class:`JobRequest`). The dialogue, the global commands and the studio all build
results; the engine stores them. Moving the state goes through
:func:`core.conversation.statemachine.step`, so an illegal move raises here.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bots.profile import BotProfile
from core.conversation.statemachine import Event, State, step
from core.generation.seams import Turn
from core.i18n.translator import ENGLISH, SOURCE_LANGUAGE, Translator, translator
from core.messages import Button, OutboundKind, OutboundMessage, Source

#: receives the text of an answer as it is written, delta by delta
Stream = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Charge:
    """What trying to pay came to: ``hold`` to capture or release later (None when it
    was free), or ``short`` with the ``balance`` that did not cover it."""

    hold: str | None = None
    short: bool = False
    balance: int = 0


class Wallet(Protocol):
    """An end user's credits with a bot, as a turn sees them (billing provides it)."""

    async def balance(self) -> int:
        """The credits the user can spend now."""
        ...

    async def reserve(self, cost: int, cause: str) -> Charge:
        """Set ``cost`` aside for ``cause`` (a content job)."""
        ...

    async def question(self) -> Charge:
        """Pay for one question: free within the day's quota, else its cost held."""
        ...

    async def settle(self, hold: str, *, spend: bool) -> None:
        """Capture (``spend``) or release a hold."""
        ...

    async def command(self, name: str, args: str) -> list[OutboundMessage]:
        """Run /credits or /buy."""
        ...

    def offers(self) -> tuple[Button, ...]:
        """A button per pack and tier on sale."""
        ...

    def help(self) -> str:
        """Who can give the user credits when none are on sale, in a sentence."""
        ...


class Wallets(Protocol):
    """Makes the :class:`Wallet` of a user (``end_user_id`` None: not stored yet)."""

    def wallet(
        self,
        bot: BotProfile,
        end_user_id: int | None,
        channel: str,
        sender_id: str,
        *,
        creator_reachable: bool = False,
        tr: Translator = ENGLISH,
    ) -> Wallet:
        """``creator_reachable``: the bot's creator can be told from the chat (/human);
        ``tr``: the language the wallet's messages are written in."""
        ...

    async def settle(self, hold: str, *, spend: bool) -> None:
        """Capture (``spend``) or release a hold, whoever's it is."""
        ...


@dataclass(frozen=True, slots=True)
class TurnInput:
    """One user turn as the dialogue sees it."""

    bot: BotProfile
    state: State
    context: Mapping[str, Any]
    text: str = ""
    payload: str | None = None
    language: str | None = None
    # earlier turns of the conversation, loaded only when the generator reads them
    history: Callable[[], Awaitable[list[Turn]]] | None = None
    # receives an answer's text as it is written, for channels that show it growing
    stream: Stream | None = None
    # the user's credits, when the bot charges for anything
    wallet: Wallet | None = None

    @property
    def tr(self) -> Translator:
        """The bot's words in the user's language (cached per language)."""
        return translator(self.language)


@dataclass(frozen=True, slots=True)
class CreatedContent:
    """Content finished in this turn, for the engine to save in the user's library."""

    content_type: str
    title: str
    parameters: dict[str, Any]
    text: str
    audio: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class JobRequest:
    """Content the user confirmed in this turn, for the engine to hand to the studio."""

    content_type: str
    parameters: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # the credits held for it, captured when it is delivered
    hold: str | None = None


@dataclass(slots=True)
class TurnResult:
    """What a turn did: the new state and context, the replies and the events on the way."""

    state: State
    context: dict[str, Any]
    replies: list[OutboundMessage] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    content: CreatedContent | None = None
    job: JobRequest | None = None
    # holds to capture once the turn is stored (a paid question), released if it is not
    charges: list[str] = field(default_factory=list)
    # events for the creator's outgoing webhooks, stored with the turn
    announced: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # the language the replies are written in
    tr: Translator = ENGLISH

    @classmethod
    def begin(
        cls, state: State, context: Mapping[str, Any], tr: Translator = ENGLISH
    ) -> TurnResult:
        """A result that starts from a private copy of the stored context, its replies
        to be written with ``tr``."""
        return cls(state=state, context=copy.deepcopy(dict(context)), tr=tr)

    def announce(self, event: str, data: dict[str, Any]) -> None:
        """Tell the creator's webhooks about ``event`` (see :mod:`core.runtime.integrations`)."""
        self.announced.append((event, data))

    def move(self, event: Event) -> None:
        self.state = step(self.state, event)
        self.events.append(event)

    def say(
        self,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        kind: OutboundKind = OutboundKind.TEXT,
        sources: tuple[Source, ...] = (),
        grounded: bool | None = None,
    ) -> None:
        self.replies.append(
            OutboundMessage(
                text=text, kind=kind, buttons=buttons, sources=sources, grounded=grounded
            )
        )

    def mark_language(self) -> None:
        """Mark each reply with the language it is written in, for the words a channel
        puts around it (a reply that says its own is left as it is)."""
        if self.tr.language == SOURCE_LANGUAGE:
            return
        self.replies = [
            r if r.language else replace(r, language=self.tr.language) for r in self.replies
        ]

    @property
    def flow(self) -> dict[str, Any]:
        flow: dict[str, Any] = self.context["flow"]
        return flow
