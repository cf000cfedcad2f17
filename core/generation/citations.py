"""Citations of numbered passages, checked and renumbered, on a whole text or as it streams.

A generator cites the passages it was given as ``[n]``. What reaches the user cites them
``[1]``, ``[2]``… in the order the text first mentions them, drops citations that name no
passage, and lists as sources exactly the passages cited (all of them when none is).
Streamed text goes through the same object delta by delta, so what a channel shows while
an answer grows matches the final text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.messages import Source
from knowledge.passages import Passage

_CITATION = re.compile(r"(\s*)\[(\d+(?:\s*,\s*\d+)*)\]")
# the start of a citation cut off at the end of a delta: held back until the rest arrives
_PARTIAL = re.compile(r"\s*\[[\d,\s]*$")


class Citations:
    """Renumbers the citations of one answer; ``feed`` deltas, then ``finish``."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self._passages = passages
        self._numbers: dict[int, int] = {}  # passage number -> number shown
        self._held = ""

    def feed(self, delta: str) -> str:
        """The delta with its complete citations renumbered (a partial one is held)."""
        text = self._held + delta
        partial = _PARTIAL.search(text)
        cut = partial.start() if partial else len(text)
        text, self._held = text[:cut], text[cut:]
        return _CITATION.sub(self._renumber, text)

    def finish(self) -> str:
        """Whatever was held back at the end."""
        held, self._held = self._held, ""
        return _CITATION.sub(self._renumber, held)

    @property
    def sources(self) -> tuple[Source, ...]:
        """The passages cited, numbered as shown; all of them when none was cited."""
        if not self._numbers:
            return tuple(p.as_source(n) for n, p in enumerate(self._passages, 1))
        return tuple(self._passages[old - 1].as_source(new) for old, new in self._numbers.items())

    def _renumber(self, match: re.Match[str]) -> str:
        cited = [int(n) for n in re.split(r"\s*,\s*", match.group(2))]
        shown = [
            self._numbers.setdefault(n, len(self._numbers) + 1)
            for n in cited
            if 1 <= n <= len(self._passages)
        ]
        if not shown:
            return ""
        return match.group(1) + "".join(f"[{n}]" for n in dict.fromkeys(shown))


def cite(text: str, passages: Sequence[Passage]) -> tuple[str, tuple[Source, ...]]:
    """The answer with its citations checked and renumbered, and its sources."""
    citations = Citations(passages)
    cleaned = citations.feed(text) + citations.finish()
    return cleaned.strip(), citations.sources
