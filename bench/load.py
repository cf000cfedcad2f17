"""Load test of Chorus scaled out: Telegram turns through 1 and 2 web processes next to
a bare aiohttp JSON echo, 10,000 widget sockets over 2 processes with the latency of a
push fanned out between them, and the memory of each process.

Each server is a process of its own, built as ``chorus serve`` builds it (speech off, no
access log), on a fresh PostgreSQL database (dropped afterwards), Redis with a prefix of
this run and one ``DATA_DIR`` (the first process ingests the demo notes into the embedded
Chroma, which the second reads). The first attaches the demo bot to the fake Bot API in
this process; the second finds it in the database. Updates (real Update JSON) go to each
process's ``/webhooks/telegram/demo`` in turn, as a round-robin balancer sends them (one
chat's updates land on both), timed from the POST to the turn's last ``sendMessage`` at
the fake: a closed loop of 100 chats (the saturating rate), then updates sent on a
schedule at half that rate, timed from when each was due; for turns without retrieval
(``bench/telegram.py``'s script) and distinct questions on the demo notes. The echo runs
the closed loop in 1 and 2 processes. Then widget visitors (``webwidget/PROTOCOL.md``)
connect, half to each process, and stay; for a sample, a bench-only route
(``POST /bench/push``) makes the *other* process deliver through its outbox (widget log,
Redis pub/sub), timed from that call to the frame at the socket (``time.monotonic`` is
one clock for every process), one at a time and all at once.

Outgoing pace: 1,000 messages/s per bot per process (the most ``Settings`` allows), no
per-chat interval, per-user rate limits off. The two cores are shared by the servers, the
fake Bot API and the load generator (their CPU use and the load average are recorded).
From the repository root: ``python bench/load.py`` (~4 min) or ``--quick`` (~1 min).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import math
import os
import random
import resource
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness
from bench.engine import postgres_database
from bench.reporting import Conditions, ms, print_table, write_results
from bench.telegram import (
    BOT,
    MESSAGES_PER_SECOND,
    SCRIPT,
    SECRET_HEADER,
    TOKEN,
    encoded,
    fake_bot_api,
    measure_embedder,
    update_for,
)
from core.settings import Settings
from tests.fakes.telegram_updates import text_update

RESULTS = Path(__file__).parent / "results" / "load.json"
REDIS_URL = "redis://127.0.0.1:6379/0"
CHATS = 100
TURNS = ("no retrieval", "questions")
Timings = list[tuple[float, float]]  # (ack, last reply) seconds of each request
Users = harness.ClosedLoop[int, bytes]
Plans = dict[int, tuple[list[bytes], list[int]]]  # chat -> its updates, the replies of each


@dataclass(frozen=True, slots=True)
class Sizes:
    rounds: int  # rounds of SCRIPT per chat, closed loop
    questions: int  # questions per chat, closed loop
    paced_seconds: float  # of no-retrieval updates at half the saturating rate
    paced_questions: int
    echoes: int  # requests per chat to the bare echo
    sockets: int
    hold: float  # seconds the idle sockets are held (the server pings every 25 s)
    pushes: int
    embedder_queries: int


FULL = Sizes(4, 4, 8.0, 250, 100, 10_000, 30.0, 200, 600)
QUICK = Sizes(1, 2, 3.0, 80, 30, 1_000, 3.0, 50, 200)


@dataclass(frozen=True, slots=True)
class Result:
    server: str  # "chorus" or "bare echo"
    processes: int
    turns: str  # "no retrieval", "questions"; the echo: "echo"
    load: str  # "closed" (100 chats) or "paced N/s" (half the closed loop's rate)
    messages: int
    seconds: float
    messages_per_s: float
    ack_p50_ms: float  # the webhook's 200
    p50_ms: float  # POST (or when it was due) -> the turn's last reply at the Bot API
    p95_ms: float
    p99_ms: float
    server_cpu: float  # CPU seconds of the server processes per wall second (2 = two cores)
    server_cpu_ms: float  # their CPU time per message
    bench_cpu: float  # CPU seconds per wall second of this process: fake Bot API and client


# -- the server processes -------------------------------------------------------------


async def serve_one(kind: str, api_base: str, data_dir: Path, attach: bool) -> None:
    """A process under test until SIGTERM: the bare JSON echo, or Chorus (settings from
    the environment plus the bench's) with ``POST /bench/push``; with ``attach`` it
    attaches the demo bot to the Bot API at ``api_base``."""
    if kind == "bare":
        echo = web.Application()

        async def answer(request: web.Request) -> web.Response:
            return web.json_response(await request.json())

        echo.router.add_post("/webhooks/telegram/{bot_id}", answer)
        return await harness.serve(echo)
    # imported here: only the server process needs the application and all it loads
    from core.app import SERVICES, STARTUP, create_app
    from core.logs import configure_logging
    from core.messages import OutboundMessage
    from core.outbox import Address

    settings = Settings(
        data_dir=data_dir,
        telegram_api_base=api_base,
        public_base_url="https://chorus.example",
        telegram_messages_per_second=MESSAGES_PER_SECOND,
        telegram_chat_interval=0.0,
        speech_enabled=False,
        user_messages_per_minute=0,  # a load test floods chats on purpose
        log_level="WARNING",
    )
    configure_logging(settings.log_format, settings.log_level)
    app = create_app(settings)

    async def push(request: web.Request) -> web.Response:
        """Deliver ``text`` to a widget visitor through this process's outbox; answer
        when the call started (``time.monotonic``)."""
        body = await request.json()
        address = Address(BOT, "widget", body["visitor"])
        at = time.monotonic()
        sent = await app[SERVICES].outbox.send(address, [OutboundMessage(text=body["text"])])
        return web.json_response({"at": at, "sent": sent})

    app.router.add_post("/bench/push", push)

    async def ready() -> None:
        await app[STARTUP].ready.wait()
        if attach:
            await app[SERVICES].telegram.attach(BOT, TOKEN)

    await harness.serve(app, ready)


def start(
    rig: harness.Rig[int], kind: str, name: str, env: dict[str, str], attach: bool = False
) -> contextlib.AbstractAsyncContextManager[harness.ServerProcess]:
    command = [__file__, "--serve", kind, "--api-base", rig.api_base]
    command += ["--data-dir", str(rig.scratch / "data"), *(["--attach"] if attach else [])]
    return harness.start_server(command, rig.scratch / f"{name}.log", env=env)


# -- the load -------------------------------------------------------------------------


def spread(
    session: aiohttp.ClientSession, servers: Sequence[harness.ServerProcess], secret: str
) -> Callable[[int, bytes], Awaitable[None]]:
    """POST an update to the demo bot's webhook of each server in turn."""
    hooks = itertools.cycle([f"{s.url}/webhooks/telegram/{BOT}" for s in servers])
    headers = {SECRET_HEADER: secret, "Content-Type": "application/json"}

    async def post(_chat: int, update: bytes) -> None:
        async with session.post(next(hooks), data=update, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"the webhook answered {response.status}")

    return post


async def timed(
    servers: Sequence[harness.ServerProcess], load: Callable[[Timings], Awaitable[Any]]
) -> harness.Case:
    """Run ``load``, which fills in its timings, and what the servers and this process
    spent meanwhile."""
    timings: Timings = []
    cpu, own, started = sum(s.cpu_seconds() for s in servers), time.process_time(), time.monotonic()
    async with asyncio.timeout(600):
        await load(timings)
    elapsed = time.monotonic() - started
    cpu, own = sum(s.cpu_seconds() for s in servers) - cpu, time.process_time() - own
    acks, replies = (list(column) for column in zip(*timings, strict=True))
    return harness.Case(acks, replies, elapsed, cpu, own)


async def closed(users: Users, plans: Plans, out: Timings) -> None:
    """Every chat of ``plans`` at once, each waiting for its replies before going on."""
    await asyncio.gather(*(users.converse(u, *plan, out) for u, plan in plans.items()))


async def paced(
    users: Users, steps: Sequence[tuple[int, bytes, int]], rate: float, out: Timings
) -> None:
    """Send ``steps`` (chat, update, replies) at ``rate`` per second whatever the replies
    do (a chat's next waits for its previous); times run from when each was due."""
    begin = time.monotonic() + 0.02
    last: dict[int, asyncio.Task[None]] = {}

    async def one(
        due: float, chat: int, update: bytes, count: int, before: asyncio.Task[None] | None
    ) -> None:
        if before is not None:
            await before
        await asyncio.sleep(due - time.monotonic())
        late, own = time.monotonic() - due, Timings()
        await users.converse(chat, [update], [count], own)
        out.append((own[0][0] + late, own[0][1] + late))

    for i, (chat, update, count) in enumerate(steps):
        last[chat] = asyncio.create_task(one(begin + i / rate, chat, update, count, last.get(chat)))
    await asyncio.gather(*last.values())


class Chorus:
    """What every Chorus case needs: the users, the replies each turn gets (calibrated
    on the first server), the questions left, fresh user ids and what each chat must
    have had in the end."""

    def __init__(self, users: Users, asked: list[str]) -> None:
        self.users = users
        self.asked = asked
        self.script: list[int] = []
        self.answer = 0
        self.expected: dict[int, int] = {}
        self._ids = itertools.count(100_001)

    async def calibrate(self) -> None:
        """Count the replies of each turn; the first answer also loads the model."""
        tester = next(self._ids)
        question = encoded(text_update(self.asked.pop(), user_id=tester))
        async with asyncio.timeout(300):
            for step in SCRIPT:
                update = encoded(update_for(step, tester))
                self.script.append(await self.users.calibrate(tester, update))
            self.answer = await self.users.calibrate(tester, question)
        self.expected[tester] = sum(self.script) + self.answer
        print(f"  messages per turn: script {self.script}, question {self.answer}", flush=True)

    async def warm(self, users: Users) -> None:
        """One turn and one answer through ``users`` (a new process loads its model)."""
        tester = next(self._ids)
        start = encoded(update_for(SCRIPT[0], tester))
        question = encoded(text_update(self.asked.pop(), user_id=tester))
        async with asyncio.timeout(300):
            await users.converse(tester, [start, question], [self.script[0], self.answer])
        self.expected[tester] = self.script[0] + self.answer

    async def people(self, count: int) -> list[int]:
        """``count`` new users who have sent ``/start`` (not timed)."""
        people = [next(self._ids) for _ in range(count)]
        async with asyncio.timeout(300):
            await asyncio.gather(
                *(
                    self.users.converse(p, [encoded(update_for(SCRIPT[0], p))], self.script[:1])
                    for p in people
                )
            )
        self.expected.update(dict.fromkeys(people, self.script[0]))
        return people

    def step(self, turns: str, user: int, n: int) -> tuple[bytes, int]:
        """A user's ``n``-th update of a case and the replies it gets."""
        if turns == TURNS[0]:
            update, count = update_for(SCRIPT[n % len(SCRIPT)], user), self.script[n % len(SCRIPT)]
        else:
            update, count = text_update(self.asked.pop(), user_id=user), self.answer
        self.expected[user] += count
        return encoded(update), count


async def measure_chorus(
    chorus: Chorus, servers: Sequence[harness.ServerProcess], sizes: Sizes
) -> list[Result]:
    """Closed loop, then paced at half its rate, for each kind of turn."""
    results: list[Result] = []
    rows = {TURNS[0]: sizes.rounds * len(SCRIPT), TURNS[1]: sizes.questions}

    def result(turns: str, load: str, case: harness.Case) -> Result:
        measures = case.columns("messages", acks=(50,), replies=(50, 95, 99))
        row = Result("chorus", len(servers), turns, load, **measures)
        print(
            f"  chorus x {len(servers)} {turns} {load}: {row.messages_per_s} messages/s", flush=True
        )
        return row

    for turns in TURNS:
        plans: Plans = {}
        for user in await chorus.people(CHATS):
            updates, counts = zip(
                *(chorus.step(turns, user, n) for n in range(rows[turns])), strict=True
            )
            plans[user] = (list(updates), list(counts))
        case = await timed(servers, functools.partial(closed, chorus.users, plans))
        results.append(result(turns, "closed", case))
    for turns, saturated in zip(TURNS, list(results), strict=True):
        rate = saturated.messages_per_s / 2
        total = (
            math.ceil(rate * sizes.paced_seconds) if turns == TURNS[0] else sizes.paced_questions
        )
        people = await chorus.people(max(20, math.ceil(rate * 2)))  # a chat every ~2 s
        steps = []
        for i in range(total):
            chat = people[i % len(people)]
            steps.append((chat, *chorus.step(turns, chat, i // len(people))))
        case = await timed(servers, functools.partial(paced, chorus.users, steps, rate))
        results.append(result(turns, f"paced {rate:.0f}/s", case))
    return results


async def measure_bare(
    users: Users, servers: Sequence[harness.ServerProcess], sizes: Sizes
) -> Result:
    """The echo, closed loop: each chat's next request once it has the answer."""
    ids = itertools.count(900_001 + 100_000 * len(servers))
    plans: Plans = {}
    for user in (next(ids) for _ in range(CHATS)):
        steps = [encoded(update_for(SCRIPT[n % len(SCRIPT)], user)) for n in range(sizes.echoes)]
        plans[user] = (steps, [0] * len(steps))
    case = await timed(servers, functools.partial(closed, users, plans))
    row = Result(
        "bare echo", len(servers), "echo", "closed", **case.columns("messages", (50,), (50, 95, 99))
    )
    print(f"  bare echo x {len(servers)}: {row.messages_per_s} messages/s", flush=True)
    return row


# -- widget sockets and fan-out -------------------------------------------------------


class Crowd:
    """Widget visitors with a socket open, by the server they are on, and the pushed
    frames they are waiting for (by text)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.visitors: dict[int, list[str]] = {}
        self._pushed: dict[str, asyncio.Future[float]] = {}
        self._readers: set[asyncio.Task[None]] = set()

    async def join(self, url: str, server: int) -> None:
        ws = await self._session.ws_connect(url, heartbeat=None, max_msg_size=0)
        await ws.send_json({"type": "hello", "last_seq": 0})
        while (frame := json.loads((await ws.receive(timeout=60)).data))["type"] != "welcome":
            pass
        self.sockets.append(ws)
        self.visitors.setdefault(server, []).append(frame["visitor"])
        reader = asyncio.create_task(self._read(ws))
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        # reading also answers the server's heartbeat pings, which keeps the socket open
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    frame = json.loads(message.data)
                    if frame["type"] == "reply" and "reply_to" not in frame:
                        future = self._pushed.pop(frame["message"]["text"], None)
                        if future is not None and not future.done():
                            future.set_result(time.monotonic())

    async def push(self, via: harness.ServerProcess, visitor: str) -> float:
        """Seconds from ``via``'s outbox call to the frame at the visitor's socket."""
        text = f"push {random.getrandbits(64):x}"
        arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._pushed[text] = arrived
        push = f"{via.url}/bench/push"
        async with self._session.post(push, json={"visitor": visitor, "text": text}) as response:
            sent = await response.json()
        if not sent["sent"]:
            raise RuntimeError(f"the outbox of {via.url} did not deliver")
        return await asyncio.wait_for(arrived, 60) - float(sent["at"])

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


async def measure_widgets(
    session: aiohttp.ClientSession, servers: Sequence[harness.ServerProcess], sizes: Sizes
) -> dict[str, Any]:
    """Open the sockets half on each server, hold them, then time pushes from the other
    server: one at a time, then all at once."""
    crowd, gate = Crowd(session), asyncio.Semaphore(200)
    urls = [f"{s.url.replace('http', 'ws', 1)}/ws/widget/{BOT}" for s in servers]
    before = [s.rss_mb() for s in servers]

    async def join(n: int) -> None:
        async with gate:
            await crowd.join(urls[n % len(urls)], n % len(urls))

    started = time.monotonic()
    await asyncio.gather(*(join(n) for n in range(sizes.sockets)))
    opened = time.monotonic() - started
    await asyncio.sleep(sizes.hold)
    after = [s.rss_mb() for s in servers]
    sockets = [
        {
            "process": n + 1,
            "sockets": len(crowd.visitors[n]),
            "rss_mb_before": round(before[n], 1),
            "rss_mb_with_sockets": round(after[n], 1),
            "kb_per_socket": round((after[n] - before[n]) * 1024 / len(crowd.visitors[n]), 1),
        }
        for n in range(len(servers))
    ]
    pick = random.Random(7)
    targets = [
        (servers[1 - n % 2], pick.choice(crowd.visitors[n % 2])) for n in range(sizes.pushes)
    ]
    one_by_one = [await crowd.push(via, visitor) for via, visitor in targets]
    started = time.monotonic()
    burst = await asyncio.gather(*(crowd.push(via, visitor) for via, visitor in targets))
    burst_seconds = time.monotonic() - started
    still_open = sum(not ws.closed for ws in crowd.sockets)
    await crowd.close()
    fanout = [
        {
            "pushes": name,
            "count": len(seconds),
            **{f"p{p}_ms": ms(seconds, p) for p in (50, 95, 99)},
            "max_ms": ms(seconds, 100),
        }
        for name, seconds in (("one at a time", one_by_one), ("all at once", burst))
    ]
    return {
        "sockets": sockets,
        "open_after_hold": still_open,
        "held_s": sizes.hold,
        "connects_per_s": round(sizes.sockets / opened, 1),
        "fanout": fanout,
        "burst_pushes_per_s": round(len(burst) / burst_seconds, 1),
    }


# -- the run --------------------------------------------------------------------------


def raise_file_limit(needed: int) -> None:
    """Raise this process's soft limit of open files (the servers inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))


@contextlib.asynccontextmanager
async def redis_prefix() -> AsyncIterator[str]:
    """A ``REDIS_PREFIX`` of this run; its keys are removed afterwards."""
    prefix = f"bench-load-{os.getpid()}"
    try:
        yield prefix
    finally:
        redis = Redis.from_url(REDIS_URL)
        try:
            async for key in redis.scan_iter(match=f"{prefix}:*"):
                await redis.delete(key)
        finally:
            await redis.aclose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    raise_file_limit(sizes.sockets + 2_000)
    asked = harness.demo_questions()
    print("embedder alone", flush=True)
    embedder = await measure_embedder(asked[: sizes.embedder_queries])
    asked.reverse()  # the cases pop from the end: the same questions first
    fake, clock = fake_bot_api()
    memory: list[dict[str, Any]] = []
    async with (
        postgres_database(args.postgres_url) as database,
        redis_prefix() as prefix,
        harness.rig(fake.app(), clock) as rig,
    ):
        env = {**os.environ, "DATABASE_URL": database, "REDIS_URL": REDIS_URL}
        env["REDIS_PREFIX"] = prefix

        def users(servers: Sequence[harness.ServerProcess], secret: str) -> Users:
            return harness.ClosedLoop(spread(rig.session, servers, secret), clock)

        print("bare echo", flush=True)
        async with (
            start(rig, "bare", "bare-1", env) as one,
            start(rig, "bare", "bare-2", env) as two,
        ):
            bare = [await measure_bare(users(s, "-"), s, sizes) for s in ([one], [one, two])]
            memory += [
                {"process": f"bare echo {n}", "rss_mb_after_turns": round(s.rss_mb(), 1)}
                for n, s in ((1, one), (2, two))
            ]
        print("chorus", flush=True)
        async with start(rig, "chorus", "chorus-1", env, attach=True) as first:
            secret = fake.bots[TOKEN].webhook.secret_token
            assert secret, "the server set no webhook secret"
            chorus = Chorus(users([first], secret), asked)
            await chorus.calibrate()
            memory.append({"process": "chorus 1", "rss_mb_ready": round(first.rss_mb(), 1)})
            cases = await measure_chorus(chorus, [first], sizes)
            async with start(rig, "chorus", "chorus-2", env) as second:
                await chorus.warm(users([second], secret))
                memory.append({"process": "chorus 2", "rss_mb_ready": round(second.rss_mb(), 1)})
                chorus.users = users([first, second], secret)
                cases += await measure_chorus(chorus, [first, second], sizes)
                await chorus.users.check(chorus.expected)
                for row, server in zip(memory[-2:], (first, second), strict=True):
                    row["rss_mb_after_turns"] = round(server.rss_mb(), 1)
                print(f"widget: {sizes.sockets:,} sockets", flush=True)
                widgets = await measure_widgets(rig.session, [first, second], sizes)
                for row, held in zip(memory[-2:], widgets["sockets"], strict=True):
                    row["rss_mb_with_sockets"] = held["rss_mb_with_sockets"]
                    row["sockets"] = held["sockets"]
    return {"embedder": embedder, "cases": [*cases, *bare], "widgets": widgets, "memory": memory}


# -- report ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Goal:
    goal: str
    target: str
    measured: float
    met: str

    @classmethod
    def check(cls, name: str, value: float, at_least: float = 0, below: float = 0) -> Goal:
        met = value >= at_least if at_least else value < below
        target = f">= {at_least:g}" if at_least else f"< {below:g}"
        return cls(name, target, round(value, 2), "yes" if met else "NO")


def verdicts(measured: dict[str, Any]) -> dict[str, Any]:
    """Ratios between the cases, and each goal against what was measured."""
    cases: list[Result] = measured["cases"]
    best = max(measured["embedder"], key=lambda r: r.queries_per_s).queries_per_s
    rate = {(c.server, c.processes, c.turns): c.messages_per_s for c in cases if c.load == "closed"}
    scaling = {t: round(rate[s, 2, t] / rate[s, 1, t], 2) for s, n, t in rate if n == 1}
    worst = max((c for c in cases if c.load != "closed"), key=lambda c: c.p95_ms)
    plain, asked = ("chorus", 1, TURNS[0]), ("chorus", 1, TURNS[1])
    goals = [
        Goal.check("no-retrieval messages/s, 1 process", rate[plain], at_least=1000),
        Goal.check("the same per process, 2", rate["chorus", 2, TURNS[0]] / 2, at_least=1000),
        Goal.check("questions/s of the embedder's, 1 process", rate[asked] / best, at_least=0.8),
        Goal.check("2 processes / 1, no retrieval", scaling[TURNS[0]], at_least=1.8),
        Goal.check("2 processes / 1, questions", scaling[TURNS[1]], at_least=1.8),
        Goal.check(
            f"p95 ms at half rate (worst: x{worst.processes} {worst.turns})",
            worst.p95_ms,
            below=100,
        ),
    ]
    return {
        "embedder_best_queries_per_s": best,
        "scaling_2_vs_1": scaling,
        "share_of_bare_echo": {
            n: round(rate["chorus", n, TURNS[0]] / rate["bare echo", n, "echo"], 3) for n in (1, 2)
        },
        "questions_share_of_embedder": {
            n: round(rate["chorus", n, TURNS[1]] / best, 3) for n in (1, 2)
        },
        "goals": goals,
    }


def report(measured: dict[str, Any], judged: dict[str, Any], conditions: Conditions) -> None:
    print_table("Query embedder alone (queries/s by batch size)", measured["embedder"])
    print_table(
        "Telegram webhook -> reply at the fake Bot API, 1 and 2 processes (latency in ms)",
        measured["cases"],
    )
    widgets = measured["widgets"]
    print_table(
        f"Widget sockets over 2 processes (held {widgets['held_s']:g} s, "
        f"{widgets['open_after_hold']:,} still open, {widgets['connects_per_s']} connects/s)",
        widgets["sockets"],
    )
    print_table(
        f"Widget fan-out: outbox of one process -> socket on the other "
        f"(all at once: {widgets['burst_pushes_per_s']} pushes/s)",
        widgets["fanout"],
    )
    print_table("Memory per process (RSS, MiB)", measured["memory"])
    print_table("Goals", judged["goals"])
    scaling, bare = judged["scaling_2_vs_1"], judged["share_of_bare_echo"]
    print(
        f"\n2 processes / 1: no retrieval {scaling[TURNS[0]]}x, questions {scaling[TURNS[1]]}x, "
        f"the bare echo {scaling['echo']}x (what this machine gives a trivial server)"
    )
    print(
        f"no retrieval vs the bare echo: {bare[1]:.1%} with 1 process, {bare[2]:.1%} with 2; "
        f"questions vs the embedder alone ({judged['embedder_best_queries_per_s']}/s): "
        + ", ".join(f"{v:.0%} with {n}" for n, v in judged["questions_share_of_embedder"].items())
    )
    print(
        f"outgoing pace {MESSAGES_PER_SECOND:g} messages/s per bot in each process (Telegram's "
        "own limit, 30/s per bot, is not shared between processes); PostgreSQL, Redis"
    )
    print(conditions.describe("the servers, the fake Bot API and the load generator"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller cases, 1,000 sockets")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument(
        "--postgres-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="a database to create the run's database from (default: %(default)s)",
    )
    harness.add_serve_options(parser, ("chorus", "bare"))
    parser.add_argument("--attach", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        asyncio.run(serve_one(args.serve, args.api_base, args.data_dir, args.attach))
        return 0
    with Conditions() as conditions:
        measured = asyncio.run(run(args))
    judged = verdicts(measured)
    report(measured, judged, conditions)
    fields = {"messages_per_second_per_bot": MESSAGES_PER_SECOND, **measured, "verdicts": judged}
    write_results(args.json, conditions, fields)
    return 0


if __name__ == "__main__":
    sys.exit(main())
