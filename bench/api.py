"""Benchmark of the creators' REST API (``/api/v1``): requests/s and latency of its read
endpoints on a bot with 10,000 end users and their conversations, on SQLite and
PostgreSQL.

Each database is fresh: a SQLite file in a temporary ``DATA_DIR``, or a PostgreSQL
database created next to the one ``--database-url`` names and dropped afterwards. The
schema comes from the project's migrations (``Database.migrate()`` of ``build_services``),
then ``chorus serve`` starts on it (``python -m core serve``, with
``API_REQUESTS_PER_MINUTE`` out of the way and speech off). Through the API a creator
registers, creates a bot, sets its pricing and widget, uploads the three demo notes and
makes an API key with the read scopes, which every measured request presents. Then this
process writes the bot's people into the database (``bench/seeding.py``): 10,000 end
users on Telegram, WhatsApp or the widget, one conversation each, last active over the
past 30 days, ~10 messages each (100,000 in all), 3,000 pieces of content (most with a
recording) and 2,000 credit accounts with ~8 ledger entries each.

Each endpoint is then called by 16 clients at once (a closed loop over kept-alive
connections) for a few seconds after a short warm-up by one, cycling over 1,000 users or
conversations, or over deep cursors, where the path has one. "deep" is a page of 50 from
the last quarter of the listing, reached by following ``next_cursor`` from the first
page. The bot's analytics endpoints, if the OpenAPI document lists any, are measured
too. Every answer must be 200: the run fails otherwise. Reported per endpoint:
requests/s, p50/p95/p99 latency, CPU per request of the server process (all its threads,
``/proc/PID/stat``), of PostgreSQL's backends serving it (``/proc/PID/schedstat``; SQLite
works inside the server process) and of this process (the client shares the two cores),
and the mean body size. With 16 requests in flight on one server process, latency is
mostly queueing: p50 is about 16 x its CPU per request.

From the repository root: ``python bench/api.py`` (~3.5 min, both databases),
``--quick`` (~50 s: SQLite only unless ``--database-url`` is given, 1 s per endpoint)
or ``--skip-postgres``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import os
import random
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness
from bench.engine import postgres_database
from bench.reporting import Conditions, ms, print_table, write_results
from bench.seeding import Population, Seeded, seed
from bots.demo import DEMO_KNOWLEDGE
from core.services import build_services, close
from core.settings import Settings
from core.storage.database import Database

RESULTS = Path(__file__).parent / "results" / "api.json"
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
API = "/api/v1"
CONCURRENCY = 16
SAMPLE = 1_000  # the users or conversations a path with an id cycles over
READ_SCOPES = [
    "bots:read",
    "knowledge:read",
    "conversations:read",
    "credits:read",
    "analytics:read",
]
POPULATION = Population(users=10_000, content=3_000, accounts=2_000)


@dataclass(frozen=True, slots=True)
class Sizes:
    """How long each endpoint is called for."""

    seconds: float  # timed, per endpoint
    warmup: float  # untimed, one client, per endpoint


FULL = Sizes(seconds=4.0, warmup=0.5)
QUICK = Sizes(seconds=1.0, warmup=0.2)


@dataclass(frozen=True, slots=True)
class Row:
    """One endpoint's measures: latency in ms, CPU in ms per request."""

    endpoint: str
    requests: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    server_cpu_ms: float  # the server process's CPU time per request
    postgres_cpu_ms: float | None  # PostgreSQL's, in its own processes (None: SQLite)
    client_cpu_ms: float  # this process's
    kb: float  # mean body
    statuses: str


# -- the creator's side ---------------------------------------------------------------

PRICING = {
    "currency": "eur",
    "free_credits": 5,
    "costs": {"meditation": 3, "affirmations": 1, "ritual": 2},
    "packs": [{"id": "small", "credits": 50, "price": 499}],
    "tiers": [{"id": "calm", "price": 999, "credits": 100, "questions": 50}],
    "question_cost": 1,
    "free_questions": 3,
}
WIDGET = {
    "allowed_origins": ["https://calm.example"],
    "theme": {"color": "#3a6ea5", "title": "Calm Coach", "position": "right"},
}


@dataclass(frozen=True, slots=True)
class Account:
    """The creator's bot and the headers with the API key the measured requests send."""

    bot_id: str
    bot_url: str
    headers: dict[str, str]


async def call(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    expected: int = 200,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Any:
    """The JSON answer to a request, which must have the ``expected`` status."""
    async with session.request(method, url, headers=headers, **kwargs) as response:
        body = await response.text()
    if response.status != expected:
        raise RuntimeError(f"{method} {url} answered {response.status}: {body[:500]}")
    return json.loads(body) if body else None


async def open_account(session: aiohttp.ClientSession, base: str) -> Account:
    """Register a creator and set up a bot through the API, as a creator would: pricing,
    widget, the demo notes learned; and an API key with the read scopes."""
    api = base + API
    registration = {"email": "bench@example.com", "password": "a long bench password"}
    tokens = await call(session, "POST", f"{api}/auth/register", 201, json=registration)
    token = {"Authorization": f"Bearer {tokens['access_token']}"}
    about = {"name": "Calm Coach", "persona": "A calm meditation teacher.", "greeting": "Hi!"}
    bot = await call(session, "POST", f"{api}/bots", 201, token, json=about)
    bot_url = f"{api}/bots/{bot['id']}"
    await call(session, "PUT", f"{bot_url}/pricing", 200, token, json=PRICING)
    await call(session, "PATCH", f"{bot_url}/widget", 200, token, json=WIDGET)
    jobs = []
    for path in sorted(DEMO_KNOWLEDGE.glob("*.md")):
        form = aiohttp.FormData()
        form.add_field("file", path.read_bytes(), filename=path.name, content_type="text/markdown")
        jobs.append(await call(session, "POST", f"{bot_url}/documents", 202, token, data=form))
    for job in jobs:
        while job["status"] not in ("done", "failed"):
            await asyncio.sleep(0.2)
            job = await call(session, "GET", f"{bot_url}/document-jobs/{job['id']}", 200, token)
        if job["status"] != "done":
            raise RuntimeError(f"a demo note was not learned: {job}")
    scopes = {"name": "bench", "scopes": READ_SCOPES}
    key = await call(session, "POST", f"{api}/api-keys", 201, token, json=scopes)
    return Account(bot["id"], bot_url, {"Authorization": f"Bearer {key['key']}"})


async def analytics_paths(session: aiohttp.ClientSession, base: str) -> list[str]:
    """The bot's analytics endpoints the OpenAPI document lists that need nothing but
    the bot's id, as paths after ``/bots/{bot_id}``."""
    document = await call(session, "GET", f"{base}/openapi.json")
    prefix = f"{API}/bots/{{bot_id}}"
    found = []
    for path, operations in document["paths"].items():
        get = operations.get("get")
        rest = path.removeprefix(prefix)
        if get is None or "analytics" not in path or rest == path or "{" in rest:
            continue
        parameters = get.get("parameters", [])
        if not any(p["required"] and p["in"] != "path" for p in parameters):
            found.append(rest)
    return found


async def deep_pages(
    session: aiohttp.ClientSession, headers: dict[str, str], url: str
) -> tuple[list[str], int]:
    """Follow ``next_cursor`` from the first page of the listing at ``url`` to its end: the
    URLs of the pages that start in its last quarter, and how many items it has."""
    starts: list[tuple[int, str]] = []
    seen, cursor = 0, None
    while True:
        page = await call(
            session, "GET", url + (f"?cursor={cursor}" if cursor else ""), 200, headers
        )
        if cursor:
            starts.append((seen, cursor))
        seen += len(page["items"])
        if (cursor := page["next_cursor"]) is None:
            break
    return [f"{url}?cursor={c}" for start, c in starts if start >= seen * 3 // 4], seen


def endpoints(
    account: Account, seeded: Seeded, deep: dict[str, list[str]], analytics: list[str]
) -> list[tuple[str, list[str]]]:
    """What to measure: a name and the URLs its requests cycle over."""
    pick = random.Random(11)
    users, conversations, holders = (
        pick.sample(ids, min(SAMPLE, len(ids)))
        for ids in (seeded.users, seeded.conversations, seeded.account_users)
    )
    bot = account.bot_url
    return [
        ("/bots", [bot.rsplit("/", 1)[0]]),
        ("/bots/{bot}", [bot]),
        ("…/users", [f"{bot}/users"]),
        ("…/users, deep page", deep["users"]),
        ("…/users/{user}", [f"{bot}/users/{u}" for u in users]),
        ("…/conversations", [f"{bot}/conversations"]),
        ("…/conversations, deep page", deep["conversations"]),
        ("…/conversations?state=chat", [f"{bot}/conversations?state=chat"]),
        ("…/conversations/{c}", [f"{bot}/conversations/{c}" for c in conversations]),
        (
            "…/conversations/{c}/messages",
            [f"{bot}/conversations/{c}/messages" for c in conversations],
        ),
        ("…/content", [f"{bot}/content"]),
        ("…/users/{user}/credits", [f"{bot}/users/{u}/credits" for u in holders]),
        ("…/users/{user}/credits/entries", [f"{bot}/users/{u}/credits/entries" for u in holders]),
        ("…/pricing", [f"{bot}/pricing"]),
        ("…/widget", [f"{bot}/widget"]),
        ("…/documents", [f"{bot}/documents"]),
        *((f"…{path}", [bot + path]) for path in analytics),
    ]


# -- measuring ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    timings: list[float]
    seconds: float
    statuses: Counter[int]
    body_bytes: int
    refused: str | None  # an answer other than 200, if there was one


async def hammer(
    session: aiohttp.ClientSession,
    headers: dict[str, str],
    urls: Sequence[str],
    seconds: float,
    clients: int = CONCURRENCY,
) -> Sample:
    """``clients`` clients each requesting the next of ``urls`` (round robin) as soon as
    they have the answer to their last, until ``seconds`` have passed."""
    turn = itertools.cycle(urls)
    timings: list[float] = []
    statuses: Counter[int] = Counter()
    body_bytes = 0
    refused: list[str] = []
    deadline = time.monotonic() + seconds

    async def client() -> None:
        nonlocal body_bytes
        while time.monotonic() < deadline:
            url = next(turn)
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                body = await response.read()
            timings.append(time.perf_counter() - started)
            statuses[response.status] += 1
            body_bytes += len(body)
            if response.status != 200 and not refused:
                refused.append(f"GET {url}: {response.status} {body[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return Sample(timings, elapsed, statuses, body_bytes, refused[0] if refused else None)


def cpu_seconds(pid: int) -> float:
    """The CPU time so far of a process of one thread, to the nanosecond (Linux's
    scheduler statistics: ``/proc/PID/stat`` counts in 10 ms ticks, too coarse for a
    backend's share of a few seconds); 0 once it has gone."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except FileNotFoundError:
        return 0.0


async def backends(db: Database) -> dict[int, float]:
    """The CPU seconds so far of each PostgreSQL backend serving ``db``'s database but
    for this process's own, by process id; none on SQLite, which runs in the server."""
    if db.is_sqlite:
        return {}
    async with db.read() as session:
        pids = await session.scalars(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        )
        return {pid: cpu_seconds(pid) for pid in pids}


async def measure(
    session: aiohttp.ClientSession,
    server: harness.ServerProcess,
    db: Database,
    account: Account,
    name: str,
    urls: Sequence[str],
    sizes: Sizes,
) -> tuple[Row, list[str]]:
    """One endpoint after a warm-up (one client): its row, and what it answered other
    than 200."""
    warm = await hammer(session, account.headers, urls, sizes.warmup, clients=1)
    before = await backends(db)
    cpu, own = server.cpu_seconds(), time.process_time()
    sample = await hammer(session, account.headers, urls, sizes.seconds)
    cpu, own = server.cpu_seconds() - cpu, time.process_time() - own
    # a backend that started meanwhile counts from 0; one that ended is missed
    postgres = sum(t - before.get(pid, 0.0) for pid, t in (await backends(db)).items())
    n = len(sample.timings)
    row = Row(
        endpoint=name,
        requests=n,
        requests_per_s=round(n / sample.seconds, 1),
        **{f"p{p}_ms": ms(sample.timings, p) for p in (50, 95, 99)},
        server_cpu_ms=round(cpu * 1000 / n, 2),
        postgres_cpu_ms=None if db.is_sqlite else round(postgres * 1000 / n, 2),
        client_cpu_ms=round(own * 1000 / n, 2),
        kb=round(sample.body_bytes / n / 1024, 1),
        statuses=" ".join(f"{code}:{count}" for code, count in sorted(sample.statuses.items())),
    )
    refused = [f"{name}: {s.refused}" for s in (warm, sample) if s.refused]
    return row, refused


# -- the run --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """``chorus serve``'s environment: this run's data and database, the API's rate
    limit out of the way, no speech, nothing shared (Redis) with anything else."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"DATA_DIR": str(data_dir), "API_REQUESTS_PER_MINUTE": "10000000"}
    env["SPEECH_ENABLED"] = "false"
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


async def database_version(db: Database) -> str:
    async with db.read() as session:
        if db.is_sqlite:
            return f"SQLite {await session.scalar(text('SELECT sqlite_version()'))}"
        return f"PostgreSQL {await session.scalar(text('SHOW server_version'))}"


async def measure_database(backend: str, database_url: str | None, sizes: Sizes) -> dict[str, Any]:
    """Migrate a fresh database, serve it, seed it and measure every endpoint."""
    with tempfile.TemporaryDirectory(prefix="chorus-bench-") as scratch:
        data_dir = Path(scratch) / "data"
        settings = Settings(data_dir=data_dir, database_url=database_url, speech_enabled=False)
        services = build_services(settings)
        try:
            await services.db.migrate()
            version = await database_version(services.db)
            port = free_port()
            command = ("-m", "core", "serve", "--host", "127.0.0.1", "--port", str(port))
            log, env = Path(scratch) / "server.log", server_env(data_dir, database_url)
            started = time.monotonic()
            async with (
                harness.start_server(command, log, port=port, env=env) as server,
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session,
            ):
                ready_s = round(time.monotonic() - started, 1)
                account = await open_account(session, server.url)
                print(f"{version}: seeding", flush=True)
                seeded = await seed(services.db, account.bot_id, POPULATION)
                analytics = await analytics_paths(session, server.url)
                deep = {}
                for listing in ("users", "conversations"):
                    url = f"{account.bot_url}/{listing}"
                    deep[listing], total = await deep_pages(session, account.headers, url)
                    if total != POPULATION.users:
                        raise RuntimeError(f"{listing}: {total} listed, {POPULATION.users} seeded")
                # the clients' connections, kept open from here on
                await hammer(session, {}, [f"{server.url}/health"], 0.2)
                rows, refused = [], []
                for name, urls in endpoints(account, seeded, deep, analytics):
                    row, wrong = await measure(
                        session, server, services.db, account, name, urls, sizes
                    )
                    rows.append(row)
                    refused += wrong
                    print(f"  {name}: {row.requests_per_s}/s", flush=True)
        finally:
            await close(services)
    return {
        "database": backend,
        "version": version,
        "server_ready_s": ready_s,
        "seeded_rows": seeded.rows,
        "seed_s": seeded.seconds,
        "deep_pages": {k: len(v) for k, v in deep.items()},
        "analytics": analytics,
        "rows": rows,
        "refused": refused,
    }


async def run(args: argparse.Namespace, sizes: Sizes) -> list[dict[str, Any]]:
    measured = [await measure_database("sqlite", None, sizes)]
    if not args.skip_postgres:
        async with postgres_database(args.database_url or POSTGRES) as url:
            measured.append(await measure_database("postgresql", url, sizes))
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="1 s per endpoint, SQLite only unless --database-url"
    )
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--seconds", type=float, help="timed seconds per endpoint")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database next to which the run's own is created and dropped "
        f"(default: {POSTGRES})",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.seconds:
        sizes = dataclasses.replace(sizes, seconds=args.seconds)
    args.skip_postgres = args.skip_postgres or (args.quick and not args.database_url)
    started = time.monotonic()
    with Conditions() as conditions:
        measured = asyncio.run(run(args, sizes))
    for found in measured:
        seeded = found["seeded_rows"]
        print_table(
            f"{found['version']}: a bot with {seeded['conversations']:,} conversations, "
            f"{seeded['messages']:,} messages; {CONCURRENCY} requests in flight, "
            f"{sizes.seconds:g} s each (… = /api/v1/bots/{{bot}}; ms, CPU ms per request)",
            [
                {k: v for k, v in dataclasses.asdict(row).items() if v is not None}
                for row in found["rows"]
            ],
        )
    print(f"\n{conditions.describe('the server, the client and other work')}")
    print(f"run took {time.monotonic() - started:.0f} s")
    fields = {"concurrency": CONCURRENCY, "population": POPULATION, "sizes": sizes}
    fields["databases"] = measured
    write_results(args.json, conditions, fields)
    refused = [problem for found in measured for problem in found["refused"]]
    for problem in refused:
        print(f"NOT 200: {problem}", file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
