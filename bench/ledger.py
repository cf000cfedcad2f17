"""Benchmark of the credits ledger (``billing/ledger.py``) and the Stripe webhook, on
SQLite and PostgreSQL.

Each backend gets a fresh database: a temporary SQLite file, or a PostgreSQL database
created next to the one ``--postgres-url`` names and dropped afterwards. A *spend* is what
paid content costs: ``reserve(1)`` then ``capture``, a transaction each, through
:class:`~billing.ledger.Ledger` on a :class:`~core.storage.database.Database` in this
process (``--pool-size``, the server's default 10). Closed loops, one per account: 1 user
for 3 s, then 100 users on 100 accounts for 5 s; latency is one whole spend, and "books"
checks that every balance equals the sum of its entries and all spends were charged.
Then 100 spenders at once on one account holding 10 credits: exactly 10 must succeed and
the balance end at 0, equal to the sum of the entries.

The webhook runs in Chorus as ``chorus serve`` builds it (``--serve`` mode, speech off,
no access log) on the same database: 50 senders POST to ``/webhooks/stripe`` for 3 s,
signed as Stripe signs (``t=…,v1=HMAC-SHA256``), events of a type Chorus ignores
(``customer.created``), each with a new id (one ``stripe_events`` row each), then
redeliveries of one event already applied. From the repository root:
``python bench/ledger.py`` (~40 s) or ``--skip-postgres``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness
from bench.engine import postgres_database, sqlite_database
from bench.reporting import Conditions, ms, print_table, write_results
from billing.ledger import Ledger, NotEnoughCredits
from core.settings import Settings
from core.storage.database import Database
from core.storage.models import Bot, EndUser
from tests.fakes.stripe_wire import sign

RESULTS = Path(__file__).parent / "results" / "ledger.json"
BOT = "demo"
SECRET = "whsec_bench"  # noqa: S105 - the endpoint secret of a throwaway server
HOOK = "/webhooks/stripe"
FREE = 1_000_000  # credits on each throughput account: never the limit
SENDERS = 50


@dataclass(frozen=True, slots=True)
class Spends:
    database: str
    users: int
    spends: int
    seconds: float
    spends_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    books: str  # "ok": balances = sums of entries = FREE - spends


@dataclass(frozen=True, slots=True)
class Contention:
    database: str
    spenders: int
    balance: int
    succeeded: int
    refused: int
    final_balance: int
    sum_of_entries: int
    check: str  # "ok" when exactly `balance` succeeded and both ended at 0


@dataclass(frozen=True, slots=True)
class Webhooks:
    database: str
    events: str  # "new ids" or "duplicates"
    senders: int
    sent: int
    seconds: float
    events_per_s: float
    p50_ms: float
    p95_ms: float
    answered: str  # answers as expected, of all
    server_cpu: float  # CPU seconds of the server process per wall second


async def closed_loop(
    workers: int, seconds: float, act: Callable[[int], Awaitable[Any]]
) -> tuple[list[float], list[Any], float]:
    """``act(worker)`` over and over in each worker until ``seconds`` have passed: each
    call's seconds, what they returned, and the wall clock until the last returned."""
    timings: list[float] = []
    answers: list[Any] = []
    deadline = time.monotonic() + seconds

    async def loop(worker: int) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            answers.append(await act(worker))
            timings.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(loop(w) for w in range(workers)))
    return timings, answers, time.perf_counter() - started


async def accounts(db: Database, ledger: Ledger, count: int, credits: int) -> list[int]:
    """``count`` new end users of the demo bot (created first), with accounts."""
    async with db.transaction() as session:
        if await session.get(Bot, BOT) is None:
            session.add(Bot(id=BOT, name="Demo"))
            await session.flush()
        users = [EndUser(bot_id=BOT, display_name=f"user {n}") for n in range(count)]
        session.add_all(users)
    return [(await ledger.account(BOT, user.id, credits)).id for user in users]


async def spends(backend: str, db: Database, ledger: Ledger, users: int, seconds: float) -> Spends:
    """``users`` closed loops of spends, one account each."""
    ids = await accounts(db, ledger, users, FREE)
    causes = itertools.count()

    async def spend(worker: int) -> None:
        await ledger.capture(await ledger.reserve(ids[worker], 1, f"bench:{next(causes)}"))

    await spend(0)  # warm: the first transaction's statements are compiled and cached
    timings, _, elapsed = await closed_loop(users, seconds, spend)
    balances = [(await ledger.get(i)).balance for i in ids]
    totals = [await ledger.total(i) for i in ids]
    charged = sum(FREE - b for b in balances) == len(timings) + 1
    return Spends(
        database=backend,
        users=users,
        spends=len(timings),
        seconds=round(elapsed, 2),
        spends_per_s=round(len(timings) / elapsed, 1),
        **{f"p{p}_ms": ms(timings, p) for p in (50, 95, 99)},
        books="ok" if balances == totals and charged else "WRONG",
    )


async def contention(backend: str, db: Database, ledger: Ledger, spenders: int) -> Contention:
    """``spenders`` spends at once on one account holding 10 credits."""
    [account] = await accounts(db, ledger, 1, 10)

    async def spend(n: int) -> bool:
        try:
            await ledger.capture(await ledger.reserve(account, 1, f"race:{n}"))
        except NotEnoughCredits:
            return False
        return True

    succeeded = sum(await asyncio.gather(*(spend(n) for n in range(spenders))))
    final, total = (await ledger.get(account)).balance, await ledger.total(account)
    return Contention(
        database=backend,
        spenders=spenders,
        balance=10,
        succeeded=succeeded,
        refused=spenders - succeeded,
        final_balance=final,
        sum_of_entries=total,
        check="ok" if (succeeded, final, total) == (10, 0, 0) else "WRONG",
    )


def event(event_id: str) -> str:
    """A Stripe event of a type Chorus acknowledges and ignores."""
    customer = {"id": f"cus_{event_id[4:18]}", "object": "customer"}
    envelope = {"id": event_id, "object": "event", "type": "customer.created"}
    return json.dumps(envelope | {"created": int(time.time()), "data": {"object": customer}})


async def webhooks(
    backend: str, session: aiohttp.ClientSession, server: harness.ServerProcess
) -> list[Webhooks]:
    """New events, then redeliveries of one, from :data:`SENDERS` senders for 3 s each."""

    async def deliver(body: str) -> tuple[bool, str]:
        headers = {"Stripe-Signature": sign(body.encode(), SECRET)}  # re-signed, as retries are
        headers["Content-Type"] = "application/json; charset=utf-8"
        async with session.post(server.url + HOOK, data=body, headers=headers) as response:
            answer = await response.json()
        if response.status != 200:
            raise RuntimeError(f"the webhook answered {response.status}: {answer}")
        return answer["duplicate"], answer["outcome"]

    async def fresh(_: int) -> tuple[bool, str]:
        return await deliver(event(f"evt_{uuid.uuid4().hex}"))

    async def again(_: int) -> tuple[bool, str]:
        return await deliver(repeated)

    repeated = event("evt_bench_duplicate")
    await asyncio.gather(*(fresh(0) for _ in range(SENDERS)), deliver(repeated))  # warm-up
    results = []
    for events, act, expected in (
        ("new ids", fresh, (False, "ignored")),
        ("duplicates", again, (True, "already applied")),
    ):
        cpu = server.cpu_seconds()
        timings, answers, elapsed = await closed_loop(SENDERS, 3.0, act)
        cpu = server.cpu_seconds() - cpu
        results.append(
            Webhooks(
                database=backend,
                events=events,
                senders=SENDERS,
                sent=len(timings),
                seconds=round(elapsed, 2),
                events_per_s=round(len(timings) / elapsed, 1),
                p50_ms=ms(timings, 50),
                p95_ms=ms(timings, 95),
                answered=f"{sum(a == expected for a in answers)}/{len(answers)}",
                server_cpu=round(cpu / elapsed, 2),
            )
        )
    return results


async def serve_stripe(database_url: str, data_dir: Path) -> None:
    """The process under test: Chorus receiving Stripe's webhooks, until SIGTERM."""
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        speech_enabled=False,
        stripe_webhook_secret=SECRET,
        stripe_secret_key="sk_test_bench",  # noqa: S106 - never sent anywhere
        stripe_api_base="http://127.0.0.1:9",  # never called: no checkout is started
        log_level="WARNING",
    )

    async def attach(_: object) -> None:
        return None

    await harness.serve_chorus(settings, attach)


async def run(args: argparse.Namespace) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {"spends": [], "contention": [], "webhooks": []}
    backends = ("sqlite",) if args.skip_postgres else ("sqlite", "postgresql")
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        for backend in backends:
            fresh = (
                sqlite_database() if backend == "sqlite" else postgres_database(args.postgres_url)
            )
            async with fresh as url:
                db = Database(url, pool_size=args.pool_size)
                try:
                    await db.migrate()
                    ledger = Ledger(db)
                    for users, seconds in ((1, 3.0), (100, 5.0)):
                        found["spends"].append(await spends(backend, db, ledger, users, seconds))
                        print(f"  {backend}, {users} user(s): done", flush=True)
                    found["contention"].append(await contention(backend, db, ledger, 100))
                finally:
                    await db.close()
                with tempfile.TemporaryDirectory(prefix="chorus-bench-") as scratch:
                    command = (__file__, "--serve", "stripe", "--data-dir", scratch)
                    log = Path(scratch) / "server.log"
                    async with harness.start_server(
                        (*command, "--database-url", url), log
                    ) as server:
                        found["webhooks"] += await webhooks(backend, session, server)
            print(f"  {backend}: webhooks done", flush=True)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument(
        "--postgres-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="an existing database; the benchmark creates and drops its own next to it",
    )
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--pool-size", type=int, default=10, help="PostgreSQL pool (10)")
    harness.add_serve_options(parser, ("stripe",))
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve_stripe(args.database_url, args.data_dir))
        return 0
    started = time.monotonic()
    with Conditions() as conditions:
        found = asyncio.run(run(args))
    print_table(
        "Spends (reserve 1 + capture), closed loop, one account per user (ms)", found["spends"]
    )
    print_table("100 spenders at once on one account holding 10 credits", found["contention"])
    print_table(
        f"Stripe webhook, {SENDERS} senders, signed customer.created events (ms)", found["webhooks"]
    )
    print(f"\n{conditions.describe('the server and the load generator')}")
    print(f"run took {time.monotonic() - started:.0f} s")
    write_results(args.json, conditions, {"pool_size": args.pool_size, **found})
    return 0


if __name__ == "__main__":
    sys.exit(main())
