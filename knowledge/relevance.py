"""The relevance gate: does a bot's material cover a question at all?

One absolute cosine threshold does not separate covered from off-topic questions well
across languages: e5 gives a Russian question its right English passage at a lower
similarity than an English one, and an off-topic question to a large corpus always
finds *some* passage in e5's narrow band. The gate therefore weighs three pieces of
evidence (:class:`Evidence`):

- the best dense similarity (for e5, corrected for hub passages that every question
  finds close: :mod:`knowledge.hubness`);
- its *margin*: how far the best passage stands out from the median of the other
  candidates (an off-topic question is about equally close to everything; the median
  rather than the next one, as a covered question's few neighbours on the same subject
  are close to it too);
- lexical *coverage*: the IDF-weighted share of the question's words found in the best
  lexical passage (a question sharing one common word with the documents covers little;
  a one-word question whose word is in the documents covers all).

- *unfamiliar* words: the share of the question's words, in a script the documents
  use, that no passage contains ("red wine stain" asked of a PDF manual).

Words are compared by their stems, and a word the documents lack is matched to one a
letter away ("licence" to "License"), so a variant or a typo is not unfamiliar.

A question is covered when the words alone cover most of it, or the similarity alone
is high; or, when the similarity is above a floor, when the similarity plus a multiple
of the margin (less a share of the unfamiliar words) is high, or the words back it and
it is not mostly about unfamiliar things. The last rule is what
answers questions about chunks whose vectors are still being computed. The numbers
per model are fitted by ``bench/gate.py``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

#: how much the unfamiliar share takes off the similarity lifted by the margin: a bot of
#: a few short notes lacks many everyday words ("help", "better", "night" in "What can
#: help me sleep better at night?"), so unfamiliar words weaken the margin's case
#: rather than close it (measured with bench/gate.py: 0.1 keeps that question answered
#: by the demo bot and "How do I remove a red wine stain?" declined by the cookbook)
UNFAMILIAR_PENALTY = 0.1
#: fewer other candidates than this and the margin says nothing (a bot of a few chunks)
MARGIN_MIN_OTHERS = 3


@dataclass(frozen=True, slots=True)
class Evidence:
    """What retrieval found for a question, as the gate reads it."""

    similarity: float | None  # the best dense cosine; None: no vectors (yet)
    margin: float | None  # similarity minus the others' median; None: too few others
    coverage: float  # 0..1, IDF-weighted share of the question's terms in a top passage
    unfamiliar: float = 0.0  # 0..1, share of its terms in no passage (in their script)


def dense_evidence(similarities: list[float]) -> tuple[float | None, float | None]:
    """The best similarity and its margin over the median of the others, from the
    best-first similarities of the dense candidates."""
    if not similarities:
        return None, None
    others = similarities[1:]
    if len(others) < MARGIN_MIN_OTHERS:
        return similarities[0], None
    return similarities[0], similarities[0] - statistics.median(others)


@dataclass(frozen=True, slots=True)
class RelevanceGate:
    """Thresholds of one embedding model (see the module docstring for the rules)."""

    similarity: float  # enough on its own
    floor: float  # the least similarity the margin or the words can lift
    weight: float  # how much the margin counts...
    lifted: float  # ...in similarity + weight * margin, enough above the floor
    supported: float  # coverage that lifts a similarity above the floor
    lexical: float  # coverage enough on its own (also without any vector)
    unfamiliar: float = 1.0  # from this share of unknown words, the vectors are not trusted
    hubs: bool = False  # similarities are corrected for hub passages (knowledge.hubness)
    penalty: float = UNFAMILIAR_PENALTY  # what the unfamiliar share takes off the lift

    def __post_init__(self) -> None:
        if not 0 < self.floor <= self.similarity < 1:
            raise ValueError("need 0 < floor <= similarity < 1")
        if not 0 < self.supported <= self.lexical <= 1:
            raise ValueError("need 0 < supported <= lexical <= 1")

    def covers(self, evidence: Evidence) -> bool:
        """Whether the material covers the question."""
        if evidence.coverage >= self.lexical:
            return True
        s = evidence.similarity
        if s is None or s < self.floor:
            return False
        if s >= self.similarity:
            return True
        margin = evidence.margin
        if margin is not None:
            lift = s + self.weight * margin - self.penalty * evidence.unfamiliar
            if lift >= self.lifted:
                return True
        # close, and backed by some words, unless it is mostly about other things
        return evidence.unfamiliar < self.unfamiliar and evidence.coverage >= self.supported

    def supports(self, similarity: float | None) -> bool:
        """Whether a passage may be shown for a covered question: one found only by
        its words, or one whose similarity is not far below the floor."""
        return similarity is None or similarity >= self.floor * 0.75

    def with_floor(self, floor: float) -> RelevanceGate:
        """This gate with an operator's own similarity floor (``KNOWLEDGE_MIN_SIMILARITY``):
        the similarity alone enough rises with it if it was lower."""
        return RelevanceGate(
            max(self.similarity, floor),
            floor,
            self.weight,
            max(self.lifted, floor),
            self.supported,
            self.lexical,
            self.unfamiliar,
            self.hubs,
            self.penalty,
        )
