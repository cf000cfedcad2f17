"""The shapes of the practice library: guided lines with their silences, and techniques.

Lines are written as a teacher speaks them; a line may end in ``~N``, the seconds of
silence a teacher leaves after it at a moderate pace (the planner scales them to the
piece's length). A line without a mark is followed by a short breath.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

#: the silence after a line that asks for nothing in particular
SHORT_REST = 3.0
_REST = re.compile(r"\s*~(\d+(?:\.\d+)?)$")


class Mood(enum.IntEnum):
    """Where a practice leaves the listener: settled towards sleep, steady, or energised."""

    SETTLING = 0
    STEADY = 1
    ENERGISING = 2


class Stage(enum.IntEnum):
    """Where in a piece a practice belongs, in the order a teacher would lead them."""

    ARRIVE = 0
    BREATH = 1
    BODY = 2
    MIND = 3
    HEART = 4
    ENDING = 5


@dataclass(frozen=True, slots=True)
class Cue:
    """One guided line and the seconds of silence a teacher leaves after it."""

    text: str
    rest: float = SHORT_REST


def cues(*lines: str) -> tuple[Cue, ...]:
    """Lines in the ``text ~seconds`` notation, as :class:`Cue` s."""
    out = []
    for line in lines:
        mark = _REST.search(line)
        rest = float(mark.group(1)) if mark else SHORT_REST
        text = line[: mark.start()] if mark else line
        out.append(Cue(" ".join(text.split()), rest))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Technique:
    """A meditation technique: an introduction, a cycle a teacher may lead several times
    (breath counts, rounds of box breathing), and a way out of it.

    ``themes`` are the purposes it serves best, ``moods`` the times it suits (a
    settling practice suits bedtime, an energising one the morning).
    """

    key: str
    name: str
    stage: Stage
    intro: tuple[Cue, ...]
    cycle: tuple[Cue, ...] = ()
    outro: tuple[Cue, ...] = ()
    themes: frozenset[str] = frozenset()
    moods: frozenset[Mood] = frozenset(Mood)
    max_cycles: int = 1

    def lines(self, cycles: int) -> tuple[Cue, ...]:
        """The technique led with its cycle ``cycles`` times (at least once if it has one)."""
        rounds = max(1, min(cycles, self.max_cycles)) if self.cycle else 0
        return self.intro + self.cycle * rounds + self.outro


def words(lines: Iterable[Cue]) -> int:
    """How many words the lines say."""
    return sum(len(cue.text.split()) for cue in lines)
