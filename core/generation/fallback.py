"""A text generator that hands over to another when the first one fails.

The server runs a language model as the *primary* and the grounded composer, which needs
no model, as the *fallback*: whatever goes wrong with the model (refused, silent, slow,
garbled, or shut off by its circuit breaker), the user still gets an answer grounded in
the bot's material, within the primary's first-token timeout of the failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from core.errors import GeneratorUnavailable
from core.generation.seams import (
    Answer,
    AnswerRequest,
    ContentRequest,
    GeneratedContent,
    TextGenerator,
)

log = logging.getLogger("chorus.generation")

#: Appended when the primary fails after part of a streamed answer was already sent.
INTERRUPTED_NOTE = " … (I was cut off there, so this answer is incomplete; ask me again.)"
DEFAULT_DEADLINE = 4.5
#: How long a model may take to write a whole script before the library writes it: the
#: recording still has to be made, and the user is waiting for both.
DEFAULT_SCRIPT_DEADLINE = 15.0


class FallbackGenerator:
    """Tries ``primary``; on any failure it answers or composes with ``fallback`` instead.

    ``deadline`` bounds each silence of a streamed answer: the wait for the primary's
    first delta and for every later one. It is a backstop behind the primary's own
    timeouts (keep it a little longer than them, so the primary can say what went wrong);
    ``answer`` shows nothing until it finishes, so there the primary's own first-token,
    stall and total timeouts are the bound. ``script_deadline`` bounds the primary's whole
    ``compose``: a script that takes longer is written by the fallback.

    A streamed answer that fails before its first delta is streamed by the fallback
    instead. One that fails part-way ends with :data:`INTERRUPTED_NOTE` and nothing more:
    the user has already read or heard the beginning, and the fallback's different
    wording would repeat it rather than continue it.
    """

    def __init__(
        self,
        primary: TextGenerator,
        fallback: TextGenerator,
        *,
        deadline: float | None = DEFAULT_DEADLINE,
        script_deadline: float | None = DEFAULT_SCRIPT_DEADLINE,
    ) -> None:
        if deadline is not None and deadline <= 0:
            raise ValueError("deadline must be positive")
        if script_deadline is not None and script_deadline <= 0:
            raise ValueError("script_deadline must be positive")
        self.primary = primary
        self.fallback = fallback
        self.deadline = deadline
        self.script_deadline = script_deadline

    @property
    def uses_history(self) -> bool:
        return self.primary.uses_history or self.fallback.uses_history

    async def answer(self, request: AnswerRequest) -> Answer:
        """The primary's answer, or the fallback's if the primary fails."""
        try:
            return await self.primary.answer(request)
        except Exception as exc:
            self._warn("answer", exc)
        return await self.fallback.answer(request)

    async def compose(self, request: ContentRequest) -> GeneratedContent:
        """The primary's script, or the fallback's if the primary fails or takes longer
        than ``script_deadline``."""
        try:
            async with asyncio.timeout(self.script_deadline):
                return await self.primary.compose(request)
        except Exception as exc:
            self._warn("script", exc)
        return await self.fallback.compose(request)

    async def stream_answer(self, request: AnswerRequest) -> AsyncIterator[str]:
        """The primary's deltas; the fallback's if it fails before its first one."""
        stream = self.primary.stream_answer(request)
        started = False
        try:
            while True:
                try:
                    async with asyncio.timeout(self.deadline):
                        delta = await anext(stream)
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    self._warn("streamed answer", exc, started=started)
                    if started:
                        yield INTERRUPTED_NOTE
                        return
                    break
                if delta:
                    started = True
                    yield delta
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if not started:
            async for delta in self.fallback.stream_answer(request):
                yield delta

    def _warn(self, what: str, exc: Exception, *, started: bool = False) -> None:
        if isinstance(exc, GeneratorUnavailable):
            reason = exc.reason
        elif isinstance(exc, TimeoutError):
            reason = f"silent for {self.deadline:g} s"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        primary = getattr(self.primary, "name", type(self.primary).__name__)
        outcome = "ended it with a note" if started else "used the fallback"
        log.warning(
            "%s could not write the %s (%s); %s",
            primary,
            what,
            reason,
            outcome,
            exc_info=not isinstance(exc, GeneratorUnavailable | TimeoutError),
        )
