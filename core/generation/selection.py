"""Choosing what an extractive answer says: spans scored against the question.

Every quotable span of the retrieved passages (:mod:`core.generation.spans`) is scored
on how much of the question's weight it carries (rare words count more; a word of the
passage's section counts half), how close it is in meaning when an embedder is at hand
(scaled within the candidates, so any embedding model's range will do), whether it has
the kind of content the question wants (:mod:`core.generation.questions`), and the
retriever's order. The best span leads; a span right after it joins when the question
wants something the lead lacks and the next one has (the advice after the problem it
answers), and other spans nearly as good join while the answer stays short.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.generation.questions import QuestionKind, Wants, question_kind
from core.generation.spans import Span, passage_spans, trimmed
from knowledge.lexical import tokenize
from knowledge.passages import Passage

MAX_SPANS = 3
ANSWER_BUDGET = 480  # characters of quoted text the extra spans may bring the answer to
EMBEDDED_CANDIDATES = 8
_DEFINES = re.compile(
    r"^((?:\S+\s+){1,4}?)(?:is|are|means|refers to|lets?|allows?|enables?)\b", re.I
)
PHRASE_WEIGHT = 0.3
# a sentence that ends by asking (an example question quoted in a guide, an FAQ's
# question): it shares the question's words, but answers nothing
_ASKS = re.compile(r"[?？؟][\"'”’»)]*[.!]?$")
ASKING = 1.0  # quoted only when nothing else is near
SHORT_LEAD = 120  # characters up to which a lead without advice brings the sentence after it
_ADVICE = (Wants.INSTRUCTION, Wants.REASON)
# kinds of question a list line answers by having the content itself (a number, a date)
_FACTS = (Wants.NUMBER, Wants.TIME)
LONG_SPAN = 300  # characters past which a span has to be that much better to be quoted
_SUFFIXES = (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("ly", ""), ("s", ""))


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate span with its score."""

    span: Span
    score: float
    fit: float


def stem(term: str) -> str:
    """A crude stem for English-like words, so "breathing" meets "breathe" and
    "applies" meets "apply"."""
    if not term.isascii() or len(term) <= 4 or term.isdigit():
        return term
    for suffix, replacement in _SUFFIXES:
        if term.endswith(suffix) and len(term) - len(suffix) >= 3:
            term = term[: -len(suffix)] + replacement
            break
    return term[:6]


def terms(text: str) -> set[str]:
    """The stemmed index terms of ``text``."""
    return {stem(t) for t in tokenize(text)}


def candidates(passages: Sequence[Passage]) -> list[Span]:
    """The distinct quotable spans of the passages, the same text kept once."""
    seen: set[str] = set()
    spans: list[Span] = []
    for index, passage in enumerate(passages):
        for span in passage_spans(
            index, passage.text, title=passage.title, section=passage.section or ""
        ):
            key = " ".join(span.text.lower().split())
            if key not in seen:
                seen.add(key)
                spans.append(span)
    return spans


def lexical_scores(
    question: str, follows: str, spans: Sequence[Span], passages: Sequence[Passage]
) -> list[float]:
    """Each span's share of the question's term weight (the earlier one's at a quarter)."""
    wanted = dict.fromkeys(terms(follows), 0.5) | dict.fromkeys(terms(question), 2.0)
    if not wanted or not spans:
        return [0.0] * len(spans)
    span_terms = [terms(s.scored_text) for s in spans]
    counts = Counter(t for ts in span_terms for t in ts)
    idf = {t: math.log(1 + len(spans) / (1 + counts[t])) + 0.2 for t in wanted}
    total = sum(idf[t] * w for t, w in wanted.items())
    heading_terms = [terms(p.section or "") for p in passages]
    pairs = _pairs(question)
    scores = []
    for span, found in zip(spans, span_terms, strict=True):
        heading = heading_terms[span.passage]
        weight = sum(
            idf[t] * w * (1.0 if t in found else 0.5 if t in heading else 0.0)
            for t, w in wanted.items()
        )
        # the question's words in its own order ("public license applies") say more
        phrase = len(pairs & _pairs(span.scored_text)) / len(pairs) if pairs else 0.0
        scores.append(weight / total + PHRASE_WEIGHT * phrase)
    return scores


def _asks(span: Span) -> bool:
    """Whether the span is a sentence that ends by asking something."""
    return not span.block and _ASKS.search(span.lead.rstrip()) is not None


def _pairs(text: str) -> set[tuple[str, str]]:
    """Adjacent index terms of ``text``, stemmed, in order."""
    ordered = [stem(t) for t in tokenize(text)]
    return set(itertools.pairwise(ordered))


def rank(
    question: str,
    spans: Sequence[Span],
    lexical: Sequence[float],
    similarity: Sequence[float] | None,
    kind: QuestionKind | None = None,
) -> list[Scored]:
    """The spans scored, best first."""
    kind = kind or question_kind(question)
    wanted = terms(question)
    dense = _scaled(similarity) if similarity is not None else [0.0] * len(spans)
    scored = []
    for span, lex, near in zip(spans, lexical, dense, strict=True):
        fit = kind.fit(span.scored_text)
        bonus = 0.1 if span.block and kind.wants is Wants.INSTRUCTION else 0.0
        short = 0.1 if len(span.lead) < 40 and not span.block else 0.0
        short += 0.15 * max(0, len(span.text) - LONG_SPAN) / LONG_SPAN
        prior = 0.12 / (1 + span.passage)
        if kind.wants is Wants.DEFINITION and _defines(span.lead, wanted):
            bonus += 0.3  # "Guards are conditions that…" for "what are guards?"
        asking = ASKING if _asks(span) else 0.0
        score = lex + 0.5 * near + 0.2 * fit + bonus + prior - short - asking
        scored.append(Scored(span, score, fit))
    return sorted(scored, key=lambda s: (-s.score, s.span.passage, s.span.order))


def choose(ranked: Sequence[Scored], question: str, follows: str = "") -> list[Span]:
    """The spans of the answer, in reading order (the lead's passage first).

    After the lead (and the sentence that answers the problem it states), a span joins
    when it is nearly as good and says something else, or when it is fairly good and
    covers words of the question that nothing chosen covers yet; never past the budget.
    """
    if not ranked:
        return []
    best = ranked[0]
    kind = question_kind(question).wants
    chosen = [best, *_completion(best, ranked, kind)][:MAX_SPANS]
    wanted = terms(question) | terms(follows)
    covered = set().union(*(terms(s.span.scored_text) for s in chosen)) & wanted
    size = sum(len(s.span.text) for s in chosen)
    for other in ranked[1:]:
        if len(chosen) >= MAX_SPANS or other.score < 0.6 * best.score:
            break
        if other in chosen or size + len(other.span.text) > ANSWER_BUDGET or _asks(other.span):
            continue
        found = terms(other.span.scored_text)
        new = bool((found & wanted) - covered)
        distinct = all(_overlap(found, terms(c.span.scored_text)) < 0.6 for c in chosen)
        if other.span.block and other.score < 0.8 * best.score:
            continue  # a block only joins when it is nearly as good as the lead
        if new or (other.score >= 0.8 * best.score and distinct):
            chosen.append(other)
            covered |= found & wanted
            size += len(other.span.text)
    if kind is Wants.INSTRUCTION and not any(s.span.block for s in chosen):
        _add_command(chosen, ranked)
    lead = best.span.passage
    chosen.sort(key=lambda s: (s.span.passage != lead, s.span.passage, s.span.order))
    wanted_terms = terms(question)
    asked = question_kind(question)
    return [_trim(s.span, wanted_terms, asked) for s in chosen]


def _add_command(chosen: list[Scored], ranked: Sequence[Scored]) -> None:
    """For a how-to question, the command (or list) shortly after a chosen sentence,
    in place of the weakest extra span when the answer is full."""
    by_place = {(s.span.passage, s.span.order): s for s in ranked}
    for sentence in list(chosen):
        for step in (1, 2):
            found = by_place.get((sentence.span.passage, sentence.span.order + step))
            if found is not None and found.span.block and found not in chosen:
                if len(chosen) >= MAX_SPANS:
                    chosen.remove(min(chosen[1:], key=lambda s: s.score))
                chosen.append(found)
                return


def _completion(best: Scored, ranked: Sequence[Scored], wanted: Wants) -> list[Scored]:
    """What must follow the lead for it to answer: when it lacks what the question wants
    (it states the problem), the sentences up to the next that has it (the advice); for
    a how-to question, the command or list shortly after it."""
    if wanted is Wants.ANY:
        return []
    by_place = {(s.span.passage, s.span.order): s for s in ranked}
    following = [by_place.get((best.span.passage, best.span.order + step)) for step in (1, 2, 3)]
    added: list[Scored] = []
    if best.fit < 1:
        for step, candidate in enumerate(following[:2]):
            if candidate is None:
                break
            if candidate.fit > best.fit:
                added = [s for s in following[: step + 1] if s is not None]
                break
        nxt = following[0]
        if (
            not added
            and wanted in _ADVICE
            and len(best.span.lead) <= SHORT_LEAD
            and nxt is not None
            and not nxt.span.block
        ):
            # a short lead with no advice in it states the problem ("The mind will
            # wander."): the sentence after it is where the advice is, however phrased
            added = [nxt]
    if wanted is Wants.INSTRUCTION and not any(s.span.block for s in (best, *added)):
        block = next((s for s in following if s is not None and s.span.block), None)
        if block is not None and block not in added:
            added.append(block)
    return added


def _defines(lead: str, wanted: set[str]) -> bool:
    """Whether a sentence opens by saying what one of the question's words is."""
    match = _DEFINES.match(lead)
    return match is not None and bool(terms(match.group(1)) & wanted)


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def _trim(span: Span, wanted: set[str], kind: QuestionKind) -> Span:
    """A long list or table cut to the lines that name what the question asks about
    (words most of its lines share, like the data set's name, pick out nothing), and
    the lines that name any of its words with the kind of content it wants ("how many
    tracks?" keeps "32 simultaneous tracks" although most lines mention tracks)."""
    lines = [terms(line) for line in span.block]
    common = Counter(t for found in lines for t in found)
    telling = {t for t in wanted if 0 < common[t] <= max(1, len(lines) // 3)}
    relevant = {n for n, found in enumerate(lines) if found & telling}
    if kind.wants in _FACTS:
        relevant |= {
            n
            for n, (line, found) in enumerate(zip(span.block, lines, strict=True))
            if found & wanted and kind.fit(line) == 1
        }
    return trimmed(span, relevant) if relevant else span


def _scaled(values: Sequence[float]) -> list[float]:
    """Values scaled to 0..1 within the candidates."""
    if not values:
        return []
    array = np.asarray(values, dtype=np.float64)
    low, high = float(array.min()), float(array.max())
    if high - low < 1e-6:
        return [0.0] * len(values)
    return [float(v) for v in (array - low) / (high - low)]
