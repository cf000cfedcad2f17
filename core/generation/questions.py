"""What kind of answer a question wants, and which sentences have that kind of content.

"How do I…" wants an instruction, "what is…" a definition, "why…" a reason, "when…"
and "how many…" a number or a date, "who…" and "which…" a name. The cues are words of
the question (in English, Russian, Chinese and Arabic) and, for sentences, patterns that
are mostly language-neutral (digits, capitalised names) plus English phrasing.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Wants(enum.StrEnum):
    """The kind of content that answers a question."""

    INSTRUCTION = "instruction"
    DEFINITION = "definition"
    REASON = "reason"
    NUMBER = "number"
    TIME = "time"
    NAME = "name"
    PLACE = "place"
    ANY = "any"


# the first matching pattern wins, so the more specific come first
_QUESTION_KINDS: tuple[tuple[Wants, re.Pattern[str]], ...] = (
    (
        Wants.NUMBER,
        re.compile(
            r"\bhow (?:many|much|often|far|old|big|large|fast)\b|\bwhat (?:percentage|"
            r"number|amount|size|version)\b|\bwhich version\b|\bсколько\b|多少|几|\bكم\b",
            re.I,
        ),
    ),
    (
        Wants.TIME,
        re.compile(
            r"\bwhen\b|\bhow long\b|\bwhat (?:year|day|time|date|century)\b|\bкогда\b|"
            r"什么时候|何时|\bمتى\b",
            re.I,
        ),
    ),
    (
        Wants.REASON,
        re.compile(
            r"\bwhy\b|\bwhat for\b|\bwhat\b[^?]*\b(?:used|good) for\b|\bпочему\b|\bзачем\b|"
            r"为什么|为何|\bلماذا\b",
            re.I,
        ),
    ),
    (
        Wants.INSTRUCTION,
        re.compile(
            r"\bhow (?:do|does|can|could|should|would|to|is|are|did)\b|\bhow\b|\bкак\b|怎么|如何|"
            r"怎样|\bكيف\b|\bwhat (?:should|can|do) (?:i|we|you)\b",
            re.I,
        ),
    ),
    (Wants.PLACE, re.compile(r"\bwhere\b|\bгде\b|\bкуда\b|哪里|哪儿|\bأين\b", re.I)),
    (Wants.NAME, re.compile(r"\bwho(?:m|se)?\b|\bкто\b|\bкого\b|谁|\bمن\b", re.I)),
    (
        Wants.DEFINITION,
        re.compile(
            r"\bwhat(?: is|'s| are) (?!the\b)|\bwhat (?:does|do) [^?]* mean\b|"
            r"\bчто (?:такое|это)\b|什么是|"
            r"\bما هو\b|\bما هي\b",
            re.I,
        ),
    ),
    (
        Wants.NAME,
        re.compile(r"\bwhich\b|\bwhat\b|\bкакой\b|\bкакая\b|\bкакие\b|哪|什么|\bأي\b|\bما\b", re.I),
    ),
)

_INSTRUCTION = re.compile(
    r"^(?:to \w+|use|run|add|set|pass|call|install|try|make|put|keep|remove|create|open|"
    r"click|type|write|choose|select|enable|disable|specify|give|start|stop|let|take|"
    r"breathe|sit|count|hold|repeat|focus|check|avoid|return|define|declare|send|ask|"
    r"first|then|next|finally|instead|if you|when you)\b|\byou (?:can|should|need|must|may)\b|"
    r"\b(?:can|should|must) be\b|\bby (?:using|running|adding|passing|setting)\b|--\w|`|"
    r"\buse\b|\bneeds? to\b",
    re.I,
)
_DEFINITION = re.compile(
    r"^(?:\S+\s+){1,4}(?:is|are)\b|\b(?:is|are|was|were) (?:a|an|the|one|any|called)\b|"
    r"\bmeans?\b|\brefers? to\b|"
    r"\bdefined as\b|\bstands for\b|\bis known as\b|\bconsists? of\b|—|\bэто\b|是",
    re.I,
)
_REASON = re.compile(
    r"\b(?:because|since|so that|in order to|due to|as a result|therefore|thus|hence|"
    r"helps?|allows?|prevents?|avoids?|otherwise|which is why|the reason|so the|why|"
    r"lets?|enables?|used (?:to|for)|purpose|"
    r"perhaps)\b|"
    r"\bпотому\b|\bтак как\b|因为|由于|\bلأن\b",
    re.I,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|hundred|thousand|million|billion|dozen|half|once|twice)\b",
    re.I,
)
_TIME = re.compile(
    r"\b1\d{3}\b|\b20\d{2}\b|\b(?:january|february|march|april|june|july|august|"
    r"september|october|november|december|century|days?|weeks?|months?|years?|hours?|"
    r"minutes?|seconds?|before|after|during|until|since|term|period|duration|long)\b|"
    r"\d+\s*(?:s|ms|h|min)\b",
    re.I,
)
_NAME = re.compile(r"(?<=[\w,;] )[A-Z][\w'’-]+|\b[A-Z]{2,}\b|\S+\.\w{2,4}\b|`")
_PLACE = re.compile(r"\b(?:in|at|from|near|on|under|inside|into)\s+(?:the\s+)?[A-Z\d/`.]|/\w", re.I)

_CUES: dict[Wants, re.Pattern[str]] = {
    Wants.INSTRUCTION: _INSTRUCTION,
    Wants.DEFINITION: _DEFINITION,
    Wants.REASON: _REASON,
    Wants.NUMBER: _NUMBER,
    Wants.TIME: _TIME,
    Wants.NAME: _NAME,
    Wants.PLACE: _PLACE,
}


@dataclass(frozen=True, slots=True)
class QuestionKind:
    """What a question wants, read from its wording."""

    wants: Wants

    def fit(self, text: str) -> float:
        """How well ``text`` has the content the question wants: 0 (none) to 1."""
        if self.wants is Wants.ANY:
            return 0.0
        cue = _CUES[self.wants]
        if self.wants is Wants.TIME:
            return 1.0 if cue.search(text) else (0.5 if _NUMBER.search(text) else 0.0)
        return 1.0 if cue.search(text) else 0.0


def question_kind(question: str) -> QuestionKind:
    """The kind of answer ``question`` asks for (ANY when its wording does not say).

    The question word that comes first decides ("how should I breathe *when*…" asks
    how); where two patterns start at the same word, the more specific one does.
    """
    found = [
        (match.start(), rank, wants)
        for rank, (wants, pattern) in enumerate(_QUESTION_KINDS)
        if (match := pattern.search(question))
    ]
    return QuestionKind(min(found)[2] if found else Wants.ANY)
