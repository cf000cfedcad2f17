"""What channel adapters share: the sink that takes a message and returns replies,
splitting long replies to fit a platform's message size, and the words a channel puts
around a reply (its sources' heading and pages), in the reply's language."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from core.i18n.translator import Translator, translator
from core.messages import InboundMessage, OutboundMessage, Source

MessageSink = Callable[[InboundMessage], Awaitable[list[OutboundMessage]]]


def wording(reply: OutboundMessage) -> Translator:
    """The translator for the words a channel adds to ``reply``: its own language."""
    return translator(reply.language)


def where(source: Source, tr: Translator, *more: str | None) -> str:
    """Where in its document a source is: ``p. 3, Breathing`` (and ``more`` parts)."""
    page = tr.gettext("p. %(page)s", page=source.page) if source.page else None
    return ", ".join(part for part in (page, source.section, *more) if part)


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """``text`` in pieces whose ``measure`` (their length once rendered) fits ``limit``:
    at paragraph breaks, else at sentence ends, else at spaces, else anywhere."""

    def fits(piece: str) -> bool:
        return measure(piece) <= limit

    if fits(text):
        return [text]
    for separator in ("\n\n", "\n", None, " "):
        parts = _SENTENCE_END.split(text) if separator is None else text.split(separator)
        if len(parts) < 2:
            continue
        joiner = " " if separator is None else separator
        pieces: list[str] = []
        current = ""
        for part in parts:
            candidate = f"{current}{joiner}{part}" if current else part
            if fits(candidate):
                current = candidate
                continue
            if current:
                pieces.append(current)
            current = part
        pieces.append(current)
        if all(fits(p) for p in pieces):
            return [p for p in (p.strip() for p in pieces) if p]
        return [q for p in pieces for q in split_text(p, limit, measure)]
    # one unbroken run: cut it where the measure allows
    pieces, current = [], ""
    for character in text:
        if current and not fits(current + character):
            pieces.append(current)
            current = ""
        current += character
    return [*pieces, current]
