"""Ingestion that never waits for the embedder: time to the first answer, and the rate
of the background vectors against the embedder's own.

On a fresh SQLite + embedded Chroma ``DATA_DIR`` with services built as the server
builds them, a generated 100-page text PDF (XQuAD's English paragraphs, 10 pt) goes
through ``KnowledgeBase.ingest_bytes``:

- *first answer*: from the call until ``HybridRetriever.search`` returns the passage
  that answers a question about it (asked again every 0.1 s until it does: by its words
  at once, or once its vectors arrive);
- *vectors*: the background job, from the document stored to its last vector; its
  rate (passages/s) against the embedder's own on the same passages
  (``embed_documents`` alone), measured before and after in the same run (their mean
  is the reference, the machine's load changing meanwhile).

``python bench/ingest.py`` (about 2 min per model on two idle cores); ``--models e5
minilm``, ``--pages N``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.reporting import Conditions, print_table, write_results
from bench.retrieval import pdf_bytes, product_embedder
from core.services import build_services, close, prepare
from core.settings import Settings
from knowledge.chunking import StructuredChunker
from knowledge.loaders import load_bytes

DATA = Path("/work/shared/data/qa")
RESULTS = Path(__file__).parent / "results" / "ingest.json"
GOALS = {"first_answer_s": 5.0, "vectors_share_of_embedder": 0.9}
#: a question about the first paragraph of the PDF and what its answer says
QUESTION = ("How many points did the Panthers defense surrender?", "308")


@dataclass(frozen=True, slots=True)
class Run:
    model: str
    pages: int
    chunks: int
    stored_s: float  # ingest_bytes returned: stored, answerable by its words
    first_answer_s: float
    answered_by: str  # "words" or "vectors": what found the answer first
    vectors_s: float  # the background job, document stored to last vector
    vectors_per_s: float
    embedder_per_s: float  # embed_documents alone, mean of before and after
    share: float  # vectors_per_s / embedder_per_s


async def measure(model: str, pages: int, root: Path) -> Run:
    services = build_services(Settings(data_dir=root / model, embedding_model=model))
    try:
        await prepare(services)
        await services.jobs.idle()  # the demo bot's vectors
        await services.retriever.load()
        corpus = [json.loads(line) for line in (DATA / "xquad_en_corpus.jsonl").open()]
        data = pdf_bytes(corpus, pages)
        chunks = StructuredChunker().split(load_bytes(data, "xquad.pdf"), "reference")
        texts = [c.indexed_text() for c in chunks]
        embedder = product_embedder(services)

        async def alone() -> float:
            started = time.perf_counter()
            await embedder.embed_documents(texts)
            return len(texts) / (time.perf_counter() - started)

        before = await alone()
        bot = (await services.bots.create(f"PDF {model}")).id
        question, answer = QUESTION
        started = time.perf_counter()
        result = await services.knowledge.ingest_bytes(bot, data, "xquad.pdf")
        stored = time.perf_counter()
        assert services.indexer is not None
        while True:
            found = await services.retriever.search(bot, question)
            if found and answer in found[0].text:
                break
            await asyncio.sleep(0.1)
        answered = time.perf_counter()
        by = "vectors" if (await services.indexer.state(bot)).current else "words"
        await services.jobs.idle()
        vectors_s = time.perf_counter() - stored
        state = await services.indexer.state(bot)
        assert state.pending == 0
        assert state.current == result.document.chunk_count
        after = await alone()
        reference = statistics.mean((before, after))
        rate = state.current / vectors_s
        return Run(
            model,
            result.document.pages or 0,
            state.current,
            round(stored - started, 2),
            round(answered - started, 2),
            by,
            round(vectors_s, 1),
            round(rate, 1),
            round(reference, 1),
            round(rate / reference, 3),
        )
    finally:
        await close(services)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["e5"], choices=("e5", "minilm"))
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args(argv)
    runs = []
    with Conditions() as conditions, tempfile.TemporaryDirectory(prefix="chorus-ingest-") as tmp:
        for model in args.models:
            runs.append(asyncio.run(measure(model, args.pages, Path(tmp))))
    print_table(f"Ingesting a {args.pages}-page PDF", runs)
    for run in runs:
        first = "met" if run.first_answer_s < GOALS["first_answer_s"] else "MISSED"
        share = "met" if run.share >= GOALS["vectors_share_of_embedder"] else "MISSED"
        print(
            f"{run.model}: first answer {run.first_answer_s} s ({first}, goal < 5 s); "
            f"vectors at {run.share:.0%} of the embedder's rate ({share}, goal >= 90 %)"
        )
    print(conditions.describe())
    write_results(RESULTS, conditions, {"goals": GOALS, "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
