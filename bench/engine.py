"""Benchmark of ``ConversationEngine.handle`` for chat turns, on SQLite and PostgreSQL.

Each case builds the services the way the server does (``build_services`` + ``prepare``) on
a fresh database: a new temporary SQLite file, or a new PostgreSQL database created next to
the one ``--postgres-url`` names and dropped afterwards. Every conversation first sends
``/start`` (warm-up, not timed), then sends its share of ``--messages`` free-text questions
one after another (each ``handle`` awaited before the next); the conversations run
concurrently with ``asyncio.gather``. Reported per case: messages per second (wall clock of
the timed phase) and p50/p95 latency of single ``handle`` calls, with 1 and with 100
concurrent conversations. Goal: >= 1,000 messages/s per process on SQLite with 100.

Run from the repository root::

    python bench/engine.py                      # SQLite and PostgreSQL
    python bench/engine.py --skip-postgres --messages 5000
    python bench/engine.py --profile            # also cProfile SQLite x 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.reporting import Conditions, ms, write_results
from core.messages import Channel, InboundMessage, parse_command
from core.services import build_services, close, prepare
from core.settings import Settings

GOAL_MESSAGES_PER_SECOND = 1_000
CONCURRENCY = (1, 100)
QUESTIONS = (
    "how do I relax before sleep?",
    "what helps with stress at work?",
    "why do I wake up tired?",
    "how can I stay calm in a meeting?",
)


@dataclass(frozen=True, slots=True)
class Result:
    backend: str
    knowledge: str  # "none": a bot without documents; "demo": retrieval over the demo notes
    conversations: int
    messages: int
    seconds: float
    messages_per_second: float
    p50_ms: float
    p95_ms: float


def _message(bot_id: str, conversation: int, seq: int, text: str) -> InboundMessage:
    command, args = parse_command(text)
    return InboundMessage(
        channel=Channel.TERMINAL,
        bot_id=bot_id,
        sender_id=f"user-{conversation}",
        text=text,
        command=command,
        command_args=args,
        platform_message_id=f"bench-{conversation}-{seq}",
    )


@contextlib.asynccontextmanager
async def sqlite_database() -> AsyncIterator[str]:
    """A URL for a fresh SQLite file, removed (with its WAL files) afterwards."""
    with tempfile.TemporaryDirectory(prefix="chorus-bench-") as directory:
        yield f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"


@contextlib.asynccontextmanager
async def postgres_database(admin_url: str) -> AsyncIterator[str]:
    """A URL for a fresh PostgreSQL database, created via ``admin_url`` and dropped after."""
    admin = make_url(admin_url)
    name = f"chorus_bench_{os.getpid()}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def run_case(
    backend: str,
    url: str,
    knowledge: str,
    conversations: int,
    messages: int,
    profiler: cProfile.Profile | None,
) -> Result:
    """Warm up every conversation with /start, then time ``messages`` chat turns in total.

    With ``knowledge`` "none" the questions go to a bot without documents, which measures
    the engine itself; with "demo" every turn also embeds the question and searches the
    demo bot's notes (dense + BM25), as a real chat turn does.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="chorus-bench-data-"))  # vectors live here
    services = build_services(
        # a load test floods a few conversations on purpose: no per-user limit
        Settings(database_url=url, data_dir=data_dir, user_messages_per_minute=0)
    )
    try:
        await prepare(services)
        engine = services.engine
        bot_id = "demo" if knowledge == "demo" else (await services.bots.create("Bench")).id
        warm_up = (engine.handle(_message(bot_id, c, 0, "/start")) for c in range(conversations))
        await asyncio.gather(*warm_up)
        per_conversation = max(1, messages // conversations)
        latencies: list[float] = []

        async def converse(conversation: int) -> None:
            for seq in range(1, per_conversation + 1):
                message = _message(bot_id, conversation, seq, QUESTIONS[seq % len(QUESTIONS)])
                started = time.perf_counter()
                await engine.handle(message)
                latencies.append(time.perf_counter() - started)

        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        await asyncio.gather(*(converse(c) for c in range(conversations)))
        elapsed = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
    finally:
        await close(services)
        shutil.rmtree(data_dir, ignore_errors=True)
    return Result(
        backend=backend,
        knowledge=knowledge,
        conversations=conversations,
        messages=len(latencies),
        seconds=round(elapsed, 3),
        messages_per_second=round(len(latencies) / elapsed, 1),
        p50_ms=ms(latencies, 50),
        p95_ms=ms(latencies, 95),
    )


async def run(args: argparse.Namespace, profiler: cProfile.Profile | None) -> list[Result]:
    results: list[Result] = []
    for knowledge in ("none", "demo"):
        for conversations in CONCURRENCY:
            async with sqlite_database() as url:
                wanted = profiler if (conversations, knowledge) == (100, "none") else None
                results.append(
                    await run_case("sqlite", url, knowledge, conversations, args.messages, wanted)
                )
        if not args.skip_postgres:
            for conversations in CONCURRENCY:
                async with postgres_database(args.postgres_url) as url:
                    results.append(
                        await run_case(
                            "postgresql", url, knowledge, conversations, args.messages, None
                        )
                    )
    return results


def sqlite_goal_met(results: list[Result]) -> bool:
    return any(
        r.backend == "sqlite"
        and r.knowledge == "none"
        and r.conversations == max(CONCURRENCY)
        and r.messages_per_second >= GOAL_MESSAGES_PER_SECOND
        for r in results
    )


def print_table(results: list[Result]) -> None:
    header = (
        f"{'backend':<11} {'knowledge':<9} {'convs':>5} {'messages':>8} {'seconds':>8} {'msg/s':>9}"
    )
    print(f"{header} {'p50 ms':>8} {'p95 ms':>8}")
    for r in results:
        print(
            f"{r.backend:<11} {r.knowledge:<9} {r.conversations:>5} {r.messages:>8} "
            f"{r.seconds:>8.2f} "
            f"{r.messages_per_second:>9.1f} {r.p50_ms:>8.2f} {r.p95_ms:>8.2f}"
        )
    verdict = "MET" if sqlite_goal_met(results) else "NOT MET"
    print(
        f"goal: >= {GOAL_MESSAGES_PER_SECOND:,} msg/s on SQLite with "
        f"{max(CONCURRENCY)} conversations (engine alone, knowledge none): {verdict}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--messages",
        type=int,
        default=2000,
        help="timed chat turns per case, split over the conversations (2000)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("bench/results/engine.json"),
        help="where to write the results (bench/results/engine.json)",
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="an existing database to connect to; the benchmark creates and "
        "drops its own database next to it",
    )
    parser.add_argument("--skip-postgres", action="store_true", help="run the SQLite cases only")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile the SQLite 100-conversation case; print the top entries",
    )
    args = parser.parse_args(argv)
    if args.messages < max(CONCURRENCY):
        parser.error(f"--messages must be at least {max(CONCURRENCY)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profiler = cProfile.Profile() if args.profile else None
    with Conditions() as conditions:
        results = asyncio.run(run(args, profiler))
    print_table(results)
    print(conditions.describe())
    document = {
        "goal_messages_per_second": GOAL_MESSAGES_PER_SECOND,
        "sqlite_goal_met": sqlite_goal_met(results),
        "results": results,
    }
    write_results(args.json, conditions, document)
    if profiler is not None:
        print("\ncProfile, SQLite x 100 conversations, timed phase, top 25 by cumulative time:")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
