"""The knowledge commands of the CLI: ``ingest``, ``docs``, ``ask`` and ``reindex``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from channels.terminal import render_text
from core.generation.seams import AnswerRequest
from core.messages import OutboundMessage
from core.text import counted
from knowledge.documents import Progress, ProgressCallback
from knowledge.errors import (
    AddressRefused,
    EmbeddingFailed,
    FetchFailed,
    KnowledgeError,
    OcrUnavailable,
)

if TYPE_CHECKING:
    from tqdm import tqdm

    from core.services import Services
    from knowledge.base import IngestResult
    from knowledge.indexing import VectorIndexer

BAD_INPUT = 2
FAILURE = 1
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}{postfix}"


async def ingest(services: Services, bot_id: str, sources: list[str]) -> int:
    """Ingest files and URLs with a progress bar each; 2 if any could not be read as
    given (an unreadable file, an address refused), else 1 if a fetch failed in a way
    that may pass (a server error, a timeout)."""
    from tqdm import tqdm

    await services.bots.get(bot_id)
    status = 0
    added = False
    for source in sources:
        name = Path(source).name or source
        bar = tqdm(
            total=100,
            desc=name,
            bar_format=BAR_FORMAT,
            leave=False,
            file=sys.stderr,
            disable=None,  # no bar when stderr is not a terminal
        )
        report = _bar_reporter(bar, name)
        try:
            result = await _ingest_one(services, bot_id, source, report)
        except KnowledgeError as exc:
            failed = _failure(exc)
            hint = " (try again later)" if failed and isinstance(exc, FetchFailed) else ""
            print(f"chorus: {exc}{hint}", file=sys.stderr)
            status = max(status, FAILURE if failed else BAD_INPUT)
            continue
        finally:
            bar.close()
        doc = result.document
        added = added or result.added
        verb = "added" if result.added else "already known, unchanged:"
        print(f"{verb} {doc.id[:8]}  {doc.title}  ({counted(doc.chunk_count, 'passage')})")
    if added and services.indexer is not None:
        if services.settings.redis_url is None:  # the jobs run in this process
            # the documents answer by their words already; their vectors are computed
            # here (interrupted, the next start or `chorus reindex` finishes them)
            await _embed_with_bar(services.indexer, bot_id, force=False, reindex=False)
        else:
            print(f"{bot_id}: vectors are being computed by `chorus worker`", file=sys.stderr)
    return status


async def reindex(services: Services, bot_id: str, force: bool) -> int:
    """Embed a bot's passages with the configured model: those without a vector or
    with another model's (after ``EMBEDDING_MODEL`` changed), or all with ``force``."""
    await services.bots.get(bot_id)
    indexer = services.indexer
    assert indexer is not None
    embedded = await _embed_with_bar(indexer, bot_id, force=force, reindex=True)
    state = await indexer.state(bot_id)
    print(
        f"{bot_id}: embedded {counted(embedded, 'passage')} with {indexer.model}; "
        f"{state.current} of {state.current + state.pending + state.stale} now have its vectors"
    )
    return 0


async def _embed_with_bar(
    indexer: VectorIndexer, bot_id: str, *, force: bool, reindex: bool
) -> int:
    from tqdm import tqdm

    bar = tqdm(
        total=100,
        desc=f"{bot_id} vectors",
        bar_format=BAR_FORMAT,
        leave=False,
        file=sys.stderr,
        disable=None,
    )
    report = _bar_reporter(bar, "vectors")
    # from 0 to 100 % even when the bar joins a background job half-way, or after it
    report(Progress("embedding", 0, None, "Embedding passages…"))
    try:
        embedded = await indexer.index(bot_id, force=force, reindex=reindex, progress=report)
        report(Progress("embedding", 1, 1, "Every passage has its vector."))
        return embedded
    finally:
        bar.close()


async def _vector_hint(services: Services, bot_id: str) -> None:
    """Say on stderr when a bot's passages lack vectors of the configured model."""
    if services.indexer is None:
        return
    state = await services.indexer.state(bot_id)
    if state.stale:
        print(
            f"chorus: {bot_id}: the vectors of {counted(state.stale, 'passage')} are by "
            f"{', '.join(state.stale_models)}, not {services.indexer.model}; they are found "
            f"by their words only until `chorus reindex {bot_id}`",
            file=sys.stderr,
        )
    elif state.pending:
        print(
            f"chorus: {bot_id}: {counted(state.pending, 'passage')} without vectors yet "
            f"(found by their words meanwhile; `chorus reindex {bot_id}` computes them now)",
            file=sys.stderr,
        )


def _failure(exc: KnowledgeError) -> bool:
    """Whether ingesting failed on our side or the network's (exit 1) rather than for
    the input as given (exit 2): a fetch that may work later, an embedding or OCR model
    that is missing or not answering."""
    if isinstance(exc, AddressRefused):
        return False
    return isinstance(exc, FetchFailed | EmbeddingFailed | OcrUnavailable)


def _bar_reporter(bar: tqdm[Any], name: str) -> ProgressCallback:
    """One bar for a whole document, 0 to 100 %, its stage in the description: stages
    have different units (pages, passages), so the bar shows the share of the whole."""

    def report(progress: Progress) -> None:
        bar.n = max(bar.n, round(progress.percent, 1))  # never backwards
        bar.set_description_str(f"{name} [{progress.stage}]", refresh=False)
        bar.set_postfix_str(progress.message, refresh=False)
        bar.refresh()

    return report


async def _ingest_one(
    services: Services, bot_id: str, source: str, report: ProgressCallback
) -> IngestResult:
    if source.startswith(("http://", "https://")):
        return await services.knowledge.ingest_url(bot_id, source, progress=report)
    return await services.knowledge.ingest_path(bot_id, Path(source), progress=report)


async def docs(services: Services, bot_id: str, delete: str | None) -> int:
    """List a bot's documents, or delete one."""
    if delete is not None:
        try:
            info = await services.knowledge.delete(bot_id, delete)
        except KnowledgeError as exc:
            print(f"chorus: {exc}", file=sys.stderr)
            return BAD_INPUT
        print(f"deleted {info.id[:8]}  {info.title}  ({counted(info.chunk_count, 'passage')})")
        return 0
    documents = await services.knowledge.documents(bot_id)
    await _vector_hint(services, bot_id)
    if not documents:
        print(f"{bot_id} has no documents; add some with `chorus ingest {bot_id} PATH`")
    for d in documents:
        pages = f"{counted(d.pages, 'page')}, " if d.pages else ""
        print(f"{d.id[:8]}  {d.title}  ({pages}{counted(d.chunk_count, 'passage')})  {d.source}")
    return 0


async def ask(services: Services, bot_id: str, question: str) -> int:
    """Answer a question from a bot's documents, with sources and timing."""
    bot = await services.bots.get(bot_id)
    await _vector_hint(services, bot_id)
    started = time.perf_counter()
    passages = await services.retriever.search(bot.id, question, limit=5)
    retrieved = time.perf_counter()
    answer = await services.generator.answer(
        AnswerRequest(bot=bot, question=question, passages=passages)
    )
    finished = time.perf_counter()
    if answer.text:
        print(render_text(OutboundMessage(text=answer.text, sources=answer.sources)))
    else:
        print(f"{bot.name}'s material does not cover this question.")
    print(
        f"({(retrieved - started) * 1000:.0f} ms retrieval, "
        f"{(finished - retrieved) * 1000:.0f} ms answer)",
        file=sys.stderr,
    )
    return 0
