"""Benchmark of the answers the default server gives: do they carry the fact asked for?

On a fresh SQLite + embedded Chroma ``DATA_DIR`` with services built as the server
builds them (``build_services`` + ``prepare``, no language model: the grounded composer
answers), the 240 English XQuAD paragraphs are ingested into one bot (a Markdown document
each, titled by their article), and questions are asked through the path of ``chorus
ask``: ``retriever.search`` then ``generator.answer``. For each answer:

- hit: a gold answer text appears in it (both SQuAD-normalised: lower case, no
  punctuation, no articles; the citations removed); also whether one appears in the
  passages retrieved at all, to tell the composer's misses from the retriever's;
- broken: :func:`core.generation.fragments.broken_fragments` finds a broken piece in it;
- its length in characters, and the question turn's time (retrieval and answer).

``python bench/answers.py`` asks 300 questions drawn evenly over the paragraphs (seeded;
``--questions N``, ``--all``) and takes about a minute on an idle two-core machine. It
prints a table, examples of misses and broken answers, and writes
``bench/results/answers.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import string
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.reporting import Conditions, ms, print_table, write_results
from core.generation.fragments import broken_fragments
from core.generation.seams import AnswerRequest
from core.services import Services, build_services, close, prepare
from core.settings import Settings

DATA = Path("/work/shared/data/qa")
RESULTS = Path(__file__).parent / "results" / "answers.json"
GOALS = {"hit_rate": 0.75, "broken_rate": 0.0}
_CITATION = re.compile(r"\[\d+\]")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


@dataclass(frozen=True, slots=True)
class Asked:
    """One question's outcome."""

    question: str
    gold: tuple[str, ...]
    answer: str
    seconds: float
    hit: bool
    broken: tuple[str, ...]
    retrieved: bool  # a gold answer is in the passages the composer was given


def normalised(text: str) -> str:
    """SQuAD's answer normalisation, citations removed first."""
    text = _CITATION.sub(" ", text).lower()
    text = "".join(c for c in text if c not in string.punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def read_jsonl(name: str) -> list[dict[str, Any]]:
    with (DATA / name).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def sample(queries: list[dict[str, Any]], count: int | None, seed: int) -> list[dict[str, Any]]:
    """``count`` questions spread evenly over the paragraphs (all of them when None)."""
    if count is None or count >= len(queries):
        return queries
    by_passage: dict[str, list[dict[str, Any]]] = {}
    for query in queries:
        by_passage.setdefault(query["gold_passage_id"], []).append(query)
    rng = random.Random(seed)
    for group in by_passage.values():
        rng.shuffle(group)
    chosen: list[dict[str, Any]] = []
    depth = 0
    while len(chosen) < count:
        for group in by_passage.values():
            if depth < len(group) and len(chosen) < count:
                chosen.append(group[depth])
        depth += 1
    return chosen


async def ingest(services: Services, bot_id: str, corpus: list[dict[str, Any]]) -> None:
    for passage in corpus:
        data = f"# {passage['title'].replace('_', ' ')}\n\n{passage['text']}\n".encode()
        await services.knowledge.ingest_bytes(bot_id, data, f"{passage['passage_id']}.md")


async def ask(services: Services, bot_id: str, query: dict[str, Any]) -> Asked:
    """One question through the path of ``chorus ask``."""
    bot = await services.bots.get(bot_id)
    started = time.perf_counter()
    passages = await services.retriever.search(bot.id, query["question"], limit=5)
    answer = await services.generator.answer(
        AnswerRequest(bot=bot, question=query["question"], passages=passages)
    )
    seconds = time.perf_counter() - started
    text = normalised(answer.text)
    gold = tuple(query["answers"])
    hit = bool(text) and any(normalised(g) in text for g in gold)
    given = normalised(" ".join(p.text for p in passages))
    retrieved = any(normalised(g) in given for g in gold)
    broken = tuple(broken_fragments(answer.text))
    return Asked(query["question"], gold, answer.text, seconds, hit, broken, retrieved)


async def run(args: argparse.Namespace, root: Path) -> list[Asked]:
    settings = Settings(data_dir=root, log_format="text")
    services = build_services(settings)
    try:
        await prepare(services)
        bot = await services.bots.create("XQuAD", bot_id="xquad")
        started = time.perf_counter()
        await ingest(services, bot.id, read_jsonl("xquad_en_corpus.jsonl"))
        print(f"ingested 240 paragraphs in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        queries = sample(read_jsonl("xquad_en_queries.jsonl"), args.questions, args.seed)
        await ask(services, bot.id, queries[0])  # warm-up: the model's first call
        return [await ask(services, bot.id, q) for q in queries]
    finally:
        await close(services)


def summary(asked: list[Asked]) -> dict[str, Any]:
    n = len(asked)
    given = [a for a in asked if a.retrieved]
    lengths = [len(a.answer) for a in asked if a.answer]
    return {
        "questions": n,
        "hit_rate": round(sum(a.hit for a in asked) / n, 4),
        # the composer's share: hits among questions whose answer was retrieved at all
        "hit_if_retrieved": round(sum(a.hit for a in given) / len(given), 4) if given else 0,
        "retrieved_rate": round(len(given) / n, 4),
        "broken_rate": round(sum(bool(a.broken) for a in asked) / n, 4),
        "declined_rate": round(sum(not a.answer for a in asked) / n, 4),
        "chars_median": round(statistics.median(lengths)) if lengths else 0,
        "chars_p95": round(sorted(lengths)[int(0.95 * (len(lengths) - 1))]) if lengths else 0,
        "turn_p50_ms": ms([a.seconds for a in asked], 50),
        "turn_p95_ms": ms([a.seconds for a in asked], 95),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=300, help="how many to ask")
    parser.add_argument("--all", action="store_true", help="ask all 1,190 questions")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--examples", type=int, default=8, help="misses and breaks to print")
    args = parser.parse_args(argv)
    if args.all:
        args.questions = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with Conditions() as conditions, tempfile.TemporaryDirectory() as root:
        asked = asyncio.run(run(args, Path(root)))
    result = summary(asked)
    print_table("XQuAD-en answers (grounded composer, chorus ask path)", [result])
    print_table(
        "goals",
        [{"measure": k, "goal": v, "measured": result[k], "met": _met(k, v, result[k])}
         for k, v in GOALS.items()],
    )  # fmt: skip
    for title, chosen in (
        ("misses with the answer retrieved", [a for a in asked if a.retrieved and not a.hit]),
        ("broken", [a for a in asked if a.broken]),
    ):
        print(f"\n{title} ({len(chosen)}), first {args.examples}:")
        for a in chosen[: args.examples]:
            print(f"  Q: {a.question}  gold: {a.gold[0]!r}")
            print(f"  A: {a.answer[:300]!r}")
            for problem in a.broken:
                print(f"     broken: {problem}")
    print(conditions.describe())
    examples = [
        {
            "question": a.question,
            "gold": a.gold,
            "answer": a.answer,
            "broken": a.broken,
            "retrieved": a.retrieved,
        }
        for a in asked
        if not a.hit or a.broken
    ]
    write_results(RESULTS, conditions, {**result, "goals": GOALS, "failures": examples})
    return 0


def _met(measure: str, goal: float, measured: float) -> bool:
    return measured >= goal if measure == "hit_rate" else measured <= goal


if __name__ == "__main__":
    raise SystemExit(main())
