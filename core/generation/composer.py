"""The grounded composer: the text generator that needs no model.

It answers by quoting the smallest coherent pieces of the retrieved passages that answer
the question (a sentence, or a sentence with the command, list or table it introduces),
each cited to its passage, and writes personalised content from scripted building blocks
(:mod:`core.generation.scripts`). It is the default, and the fallback whenever a
language model is absent or failing.

What to quote is chosen in :mod:`core.generation.selection`; with an embedder (the
retriever's own, through its query batcher, so the question's vector is already cached)
meaning counts as well as shared words.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

from core.generation.citations import Citations, cite
from core.generation.questions import question_kind
from core.generation.scripts import write_script
from core.generation.seams import (
    Answer,
    AnswerRequest,
    ContentRequest,
    GeneratedContent,
    Quoted,
)
from core.generation.selection import (
    EMBEDDED_CANDIDATES,
    candidates,
    choose,
    lexical_scores,
    rank,
)
from core.generation.spans import Span
from knowledge.embeddings import QueryBatcher

log = logging.getLogger("chorus.generation")

#: The most spans (sentences, or lead-ins with their blocks) one answer quotes.
MAX_ANSWER_SENTENCES = 3
_EMBEDDED_CHARS = 400  # a span's start says what it is about; the rest costs time


class GroundedComposer:
    """Answers from passages by extraction and composes content from templates.

    ``queries`` is the retriever's query batcher; without it the composer matches words
    only (and needs no model at all).
    """

    uses_history = False  # each answer stands on the passages alone

    def __init__(self, queries: QueryBatcher | None = None) -> None:
        self._queries = queries

    async def answer(self, request: AnswerRequest) -> Answer:
        """Quote the spans of the passages that best answer the question, cited (in the
        passages' own language, which may not be the user's: ``quoted``)."""
        parts = await self._cited_parts(request)
        if not parts:
            return Answer(text="", sources=())
        text, sources = cite("".join(parts), request.passages)
        return Answer(text=text, sources=sources, quoted=True)

    async def stream_answer(self, request: AnswerRequest) -> AsyncIterator[str]:
        """The same answer as :meth:`answer`, one cited span per delta, each
        :class:`Quoted`."""
        citations = Citations(request.passages)
        for part in await self._cited_parts(request):
            yield Quoted(citations.feed(part))
        if tail := citations.finish():
            yield Quoted(tail)

    async def compose(self, request: ContentRequest) -> GeneratedContent:
        """Write the script for a confirmed guided-flow request."""
        return write_script(request)

    async def _cited_parts(self, request: AnswerRequest) -> list[str]:
        """The answer's spans, each citing its passage by its number in the request, with
        the separators that keep blocks on lines of their own."""
        spans = await self._spans(request)
        parts: list[str] = []
        after_block = False
        for number, span in enumerate(spans):
            separator = "" if number == 0 else ("\n" if after_block or span.block else " ")
            parts.append(f"{separator}{span.text} [{span.passage + 1}]")
            after_block = bool(span.block)
        return parts

    async def _spans(self, request: AnswerRequest) -> list[Span]:
        if not request.passages:
            return []
        found = candidates(request.passages)
        if not found:
            return []
        question = request.question
        lexical = lexical_scores(question, request.follows, found, request.passages)
        similarity = await self._similarity(request, found, lexical)
        kind = question_kind(question)
        ranked = rank(question, found, lexical, similarity, kind)
        return choose(ranked, question, request.follows)[:MAX_ANSWER_SENTENCES]

    async def _similarity(
        self, request: AnswerRequest, spans: Sequence[Span], lexical: Sequence[float]
    ) -> list[float] | None:
        """Cosine similarity of the best lexical candidates to the question (the others
        get the lowest seen), or None without an embedder or when it fails."""
        order = sorted(range(len(spans)), key=lambda i: -lexical[i])[:EMBEDDED_CANDIDATES]
        if self._queries is None or not order:
            return None
        query = f"{request.follows} {request.question}".strip()
        try:
            # the question through the batcher (the retriever embedded it already: its
            # cache), the candidates as passages, in one model call: a model made for
            # questions and passages (e5) scores an answer, not a sentence worded like
            # the question, highest
            vector, vectors = await asyncio.gather(
                self._queries.embed_query(query),
                self._queries.embedder.embed_documents(
                    [spans[i].scored_text[:_EMBEDDED_CHARS] for i in order]
                ),
            )
        except Exception:  # the answer still stands on shared words
            log.warning("could not embed the answer's candidates", exc_info=True)
            return None
        near = vectors @ vector
        similarity = [float(near.min())] * len(spans)
        for row, index in enumerate(order):
            similarity[index] = float(near[row])
        return similarity
