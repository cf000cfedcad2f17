"""Timing a planned piece: how long its speech lasts and how its silences fill the rest.

Speech is estimated from the word count at the pace's speaking rate; the silences a
teacher would leave are then scaled together so that speech and silence add up to the
asked length, none shorter than a breath or longer than :data:`MAX_REST`. The planner
adds lines until speech fills its share of the piece, so no silence is stretched to
make up the time. A planned piece renders twice: as prose to read, and as the audio
plan, where each silence is a ``(pause N seconds)`` line for the voice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.generation.practices.model import Cue
from core.voice.voice_io import PACE_SPEEDS

#: the share of a piece that speech should fill, by pace: a lively piece talks more
FILL = {"slow": 0.62, "moderate": 0.68, "lively": 0.74}
#: more speech than this leaves no room to breathe
MAX_FILL = 0.85
#: the longest planned silence: a voice that speaks faster than estimated stretches the
#: silences, and even then none should pass 45 seconds
MAX_REST = 35.0
#: the shortest silence after a line, by pace: a lively piece moves on sooner
MIN_REST = {"slow": 1.5, "moderate": 1.5, "lively": 1.0}


def min_rest(pace: str) -> float:
    """The shortest silence after a line at ``pace``."""
    return MIN_REST.get(pace, MIN_REST["moderate"])


@dataclass(frozen=True, slots=True)
class Section:
    """A part of a piece: one paragraph of a meditation, one step of a ritual."""

    cues: tuple[Cue, ...]
    name: str = ""
    summary: str = ""
    # written one line per cue (a list of affirmations), not as a paragraph
    listed: bool = False


def speaking_rate(pace: str) -> int:
    """Words per minute the voice speaks at for ``pace``."""
    return PACE_SPEEDS.get(pace, PACE_SPEEDS["moderate"])


def speech_seconds(lines: Sequence[Cue], words_per_minute: int) -> float:
    """How long saying ``lines`` takes at ``words_per_minute``."""
    return sum(len(cue.text.split()) for cue in lines) / words_per_minute * 60


def fit_rests(
    nominal: Sequence[float], available: float, shortest: float = MIN_REST["moderate"]
) -> list[float]:
    """Scale the silences in proportion to ``nominal`` so they add up to ``available``
    seconds, each held between ``shortest`` and :data:`MAX_REST` (a zero stays zero:
    the last line needs no silence after it)."""
    active = [i for i, n in enumerate(nominal) if n > 0]
    rests = [0.0] * len(nominal)
    held: dict[int, float] = {}
    for _ in range(len(active) + 1):
        free = [i for i in active if i not in held]
        left = available - sum(held.values())
        weight = sum(nominal[i] for i in free)
        if not free or weight <= 0:
            break
        scale = max(0.0, left) / weight
        clamp = {}
        for i in free:
            value = nominal[i] * scale
            if value < shortest:
                clamp[i] = shortest
            elif value > MAX_REST:
                clamp[i] = MAX_REST
        if not clamp:
            for i in free:
                rests[i] = nominal[i] * scale
            break
        held.update(clamp)
    for i, value in held.items():
        rests[i] = value
    return rests


def planned_seconds(
    sections: Sequence[Section],
    seconds: float,
    words_per_minute: int,
    shortest: float = MIN_REST["moderate"],
) -> float:
    """How long the piece lasts once its silences are fitted to ``seconds``."""
    lines = [cue for section in sections for cue in section.cues]
    speech = speech_seconds(lines, words_per_minute)
    return speech + sum(fit_rests([c.rest for c in lines], seconds - speech, shortest))


def timed(
    sections: Sequence[Section],
    seconds: float,
    words_per_minute: int,
    shortest: float = MIN_REST["moderate"],
) -> list[Section]:
    """The sections with their silences fitted to last ``seconds`` in all, in whole
    seconds (to the half second), none shorter than ``shortest``; the last line has no
    silence after it."""
    lines = [cue for section in sections for cue in section.cues]
    nominal = [cue.rest for cue in lines]
    nominal[-1] = 0.0
    speech = speech_seconds(lines, words_per_minute)
    rests = iter(round(r * 2) / 2 for r in fit_rests(nominal, seconds - speech, shortest))
    return [
        Section(tuple(Cue(c.text, next(rests)) for c in s.cues), s.name, s.summary, s.listed)
        for s in sections
    ]


def audio_plan(sections: Sequence[Section]) -> str:
    """The timed piece for the voice: one line per cue, each silence a pause line."""
    out: list[str] = []
    for section in sections:
        for cue in section.cues:
            out.append(cue.text)
            if cue.rest > 0:
                out.append(f"(pause {cue.rest:g} seconds)")
    return "\n".join(out)


def prose(sections: Sequence[Section]) -> str:
    """The piece to read: one paragraph per section (a list of affirmations one per
    line), no stage directions."""
    return "\n\n".join(
        ("\n" if section.listed else " ").join(cue.text for cue in section.cues)
        for section in sections
    )
