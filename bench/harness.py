"""Chorus in a process of its own, driven by simulated users in this one.

The server under test runs as a subprocess (:func:`start_server`): ``chorus serve``
itself, or a benchmark's own ``--serve`` mode built on :func:`serve_chorus`, started by
:meth:`Rig.start`. A :class:`Rig` holds the fake platform API the server's replies go to,
with a :class:`ReplyClock` on it, and one HTTP client; a :class:`ClosedLoop` of users
sends requests to the server's webhook, each waiting until its replies have reached the
fake before sending the next (people wait for the answer), and :meth:`ClosedLoop.run`
times a case and the CPU both processes spent on it.

The scripts put the repository root on ``sys.path`` and import this as ``bench.harness``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import aiohttp
from aiohttp import web

from bench.reporting import ms

if TYPE_CHECKING:
    from core.services import Services
    from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
K = TypeVar("K", bound=Hashable)  # what a chat is known by on the fake: a chat id, a number
R = TypeVar("R")  # what a user sends: a request body, a text

# -- the server process ---------------------------------------------------------------


@dataclass(slots=True)
class ServerProcess:
    """A server started by :func:`start_server`, listening at ``url``."""

    process: asyncio.subprocess.Process
    url: str

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far, all its threads (Linux)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """The process's resident memory, in MiB (Linux)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")


@contextlib.asynccontextmanager
async def start_server(
    command: Sequence[str],
    log: Path,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[ServerProcess]:
    """Run ``python COMMAND`` from the repository root, its output going to ``log``, and
    yield it once it is ready; SIGTERM (then SIGKILL after a minute) when done.

    With ``port`` it is ready when ``GET /ready`` answers 200 there (``chorus serve``);
    without, when it has printed the line with its port that :func:`serve` prints.
    """
    with log.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *command,
            cwd=ROOT,
            env=env,
            stdout=log_file if port else asyncio.subprocess.PIPE,
            stderr=log_file,
        )
        try:
            async with asyncio.timeout(300):
                if port:
                    url = f"http://127.0.0.1:{port}"
                    await _ready(process, url)
                else:
                    assert process.stdout is not None
                    line = await process.stdout.readline()
                    url = f"http://127.0.0.1:{json.loads(line)['port']}" if line else ""
            if process.returncode is not None or not url:
                tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-3000:]
                raise RuntimeError(f"the server did not start:\n{tail}")
            yield ServerProcess(process, url)
        finally:
            await stop_server(process)


async def stop_server(process: asyncio.subprocess.Process) -> None:
    """SIGTERM a server process (it cleans up and exits); killed if it lingers past 60 s."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(60):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


async def _ready(process: asyncio.subprocess.Process, url: str) -> None:
    """Until ``GET /ready`` answers 200, or the process has exited."""
    async with aiohttp.ClientSession() as session:
        while process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/ready") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)


def add_serve_options(parser: argparse.ArgumentParser, kinds: Sequence[str]) -> None:
    """The hidden options with which :meth:`Rig.start` runs a benchmark's own server."""
    parser.add_argument("--serve", choices=kinds, help=argparse.SUPPRESS)
    parser.add_argument("--api-base", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)


async def serve(app: web.Application, ready: Callable[[], Awaitable[None]] | None = None) -> None:
    """The server side of :func:`start_server`: ``app`` on a free port, without an access
    log, until SIGTERM. Prints ``{"port": N}`` once ``ready`` has returned."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        if ready is not None:
            await ready()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


async def serve_chorus(settings: Settings, attach: Callable[[Services], Awaitable[None]]) -> None:
    """The process under test: Chorus built from ``settings`` as ``chorus serve`` builds
    it, served by :func:`serve` once start-up is done and ``attach`` has given the demo
    bot its channel."""
    # imported here: only the server process needs the application and all it loads
    from core.app import SERVICES, STARTUP, create_app
    from core.logs import configure_logging

    configure_logging(settings.log_format, settings.log_level)
    app = create_app(settings)

    async def ready() -> None:
        await app[STARTUP].ready.wait()
        await attach(app[SERVICES])

    await serve(app, ready)


@contextlib.asynccontextmanager
async def listening(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` (a fake API) in this process on a free port; yield its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


# -- the fake's side ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply(Generic[K]):
    """A message the server sent to a chat, as it reached the fake API."""

    chat: K
    at: float  # time.monotonic()
    text: str


class ReplyClock(Generic[K]):
    """When each chat's n-th reply reached a fake API, and what it said.

    Its :meth:`middleware` goes on the fake's app and calls ``newest`` after each request:
    the fakes record a request's call just before answering, so the newest call is the
    one returning; ``newest`` gives it as a :class:`Reply`, or None if it is none.
    """

    def __init__(self, newest: Callable[[], Reply[K] | None]) -> None:
        self._newest = newest
        self._replies: dict[K, list[Reply[K]]] = defaultdict(list)
        self._waiters: dict[K, tuple[int, asyncio.Future[float]]] = {}

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        reply = self._newest()
        if reply is not None:
            replies = self._replies[reply.chat]
            replies.append(reply)
            waiter = self._waiters.get(reply.chat)
            if waiter is not None and len(replies) >= waiter[0] and not waiter[1].done():
                waiter[1].set_result(replies[waiter[0] - 1].at)
        return response

    def count(self, chat: K) -> int:
        return len(self._replies[chat])

    def texts(self, chat: K, start: int = 0) -> list[str]:
        """What the chat's replies said, from its ``start``-th on."""
        return [reply.text for reply in self._replies[chat][start:]]

    async def until(self, chat: K, count: int) -> float:
        """When the chat's ``count``-th reply arrived (``time.monotonic``)."""
        if len(replies := self._replies[chat]) >= count:
            return replies[count - 1].at
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[chat] = (count, future)
        try:
            return await future
        finally:
            del self._waiters[chat]


@dataclass(frozen=True, slots=True)
class Rig(Generic[K]):
    """What a webhook benchmark runs in: the fake platform API at ``api_base`` with its
    reply ``clock``, one HTTP client for all the users, and a scratch directory."""

    api_base: str
    clock: ReplyClock[K]
    session: aiohttp.ClientSession
    scratch: Path

    def start(
        self, script: str, kind: str
    ) -> contextlib.AbstractAsyncContextManager[ServerProcess]:
        """:func:`start_server` with ``SCRIPT --serve KIND`` (see
        :func:`add_serve_options`): that kind of server on a fresh data directory, its
        platform API this rig's."""
        data_dir = str(self.scratch / kind)
        command = (script, "--serve", kind, "--api-base", self.api_base, "--data-dir", data_dir)
        return start_server(command, self.scratch / f"{kind}.log")


@contextlib.asynccontextmanager
async def rig(fake_api: web.Application, clock: ReplyClock[K]) -> AsyncIterator[Rig[K]]:
    """Set up a :class:`Rig` around the fake API's app and its clock, and tear it down."""
    fake_api.middlewares.append(clock.middleware)
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        listening(fake_api) as api_base,
        aiohttp.ClientSession(connector=connector) as session,
    ):
        with tempfile.TemporaryDirectory(prefix="chorus-bench-") as scratch:
            yield Rig(api_base, clock, session, Path(scratch))


# -- the load generator ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """What one closed-loop case measured: each request's seconds to the webhook's answer
    (``acks``) and to its last reply (``replies``), the wall clock, and the CPU seconds the
    server process and this process (the fake API and the client) spent meanwhile."""

    acks: list[float]
    replies: list[float]
    seconds: float
    server_cpu_s: float
    bench_cpu_s: float

    def columns(self, count: str, acks: Sequence[int], replies: Sequence[int]) -> dict[str, Any]:
        """The case as a table row's measures: ``count`` (the requests), ``seconds``,
        ``{count}_per_s``, ``ack_pNN_ms`` for the percentiles ``acks`` and ``pNN_ms`` for
        ``replies``, then the CPU: ``server_cpu`` (the server's CPU seconds per wall second,
        2 = two cores), ``server_cpu_ms`` (its CPU time per request) and ``bench_cpu``
        (this process's CPU seconds per wall second)."""
        n = len(self.replies)
        return {
            count: n,
            "seconds": round(self.seconds, 2),
            f"{count}_per_s": round(n / self.seconds, 1),
            **{f"ack_p{p}_ms": ms(self.acks, p) for p in acks},
            **{f"p{p}_ms": ms(self.replies, p) for p in replies},
            "server_cpu": round(self.server_cpu_s / self.seconds, 2),
            "server_cpu_ms": round(self.server_cpu_s * 1000 / n, 2),
            "bench_cpu": round(self.bench_cpu_s / self.seconds, 2),
        }


class ClosedLoop(Generic[K, R]):
    """Users sending requests to one server with ``send``, each waiting for its replies
    at the fake API (``clock``) before sending the next."""

    def __init__(self, send: Callable[[K, R], Awaitable[None]], clock: ReplyClock[K]) -> None:
        self._send = send
        self.clock = clock

    async def calibrate(self, chat: K, request: R, silence: float = 0.5) -> int:
        """How many replies ``request`` gets: those until ``silence`` passes without one."""
        before = self.clock.count(chat)
        await self._send(chat, request)
        await self.clock.until(chat, before + 1)
        while True:
            seen = self.clock.count(chat)
            await asyncio.sleep(silence)
            if self.clock.count(chat) == seen:
                return seen - before

    async def converse(
        self,
        chat: K,
        requests: Sequence[R],
        replies: Sequence[int],
        timings: list[tuple[float, float]] | None = None,
    ) -> None:
        """One user: each request, then wait for its ``replies`` (0: only the webhook's
        answer); ``timings`` gets (ack, reply) seconds for each."""
        expected = self.clock.count(chat)
        for request, count in zip(requests, replies, strict=True):
            started = time.monotonic()
            await self._send(chat, request)
            acked = time.monotonic()
            expected += count
            arrived = await self.clock.until(chat, expected) if count else acked
            if timings is not None:
                timings.append((acked - started, arrived - started))

    async def check(self, expected: Mapping[K, int], settle: float = 1.0) -> None:
        """Raise unless each chat of ``expected`` has had exactly that many replies once
        ``settle`` seconds have passed (for any still on their way)."""
        await asyncio.sleep(settle)
        counted = {chat: self.clock.count(chat) for chat in expected}
        wrong = {chat: (counted[chat], n) for chat, n in expected.items() if counted[chat] != n}
        if wrong:
            raise RuntimeError(f"replies (got, expected) other than calibrated: {wrong}")

    async def run(
        self, server: ServerProcess, plans: Mapping[K, tuple[Sequence[R], Sequence[int]]]
    ) -> Case:
        """Every user of ``plans`` (chat -> its requests, the replies each gets) at once."""
        timings: list[tuple[float, float]] = []
        cpu_server, cpu_bench = server.cpu_seconds(), time.process_time()
        started = time.monotonic()
        async with asyncio.timeout(600):
            await asyncio.gather(
                *(self.converse(chat, *plan, timings=timings) for chat, plan in plans.items())
            )
        elapsed = time.monotonic() - started
        cpu_server, cpu_bench = server.cpu_seconds() - cpu_server, time.process_time() - cpu_bench
        acks, replies = (list(column) for column in zip(*timings, strict=True))
        return Case(acks, replies, elapsed, cpu_server, cpu_bench)


# -- what the users ask ---------------------------------------------------------------

#: the parts of the questions on the demo notes: every opener x topic x tail, 1,600 in all
_OPENERS = """what is|how does|why does|how often should I practise|tell me about|is it normal
    to struggle with|what do your notes say about|how can I learn|what should I know
    about|who benefits from"""
_TOPICS = """box breathing|the 4-7-8 breath|the physiological sigh|breathing for sleep|a body
    scan|posture in meditation|a wandering mind|the best time of day to meditate|how long
    to meditate|slow breathing|feeling light-headed when I breathe slowly|counting
    breaths|sitting on a chair to meditate|breathing out longer than in|noticing
    thoughts|relaxing the shoulders"""
_TAILS = """|for a beginner|at work|when I'm anxious|before an exam|in the evening|after a
    long day|with young children at home|on a busy morning|as someone who has never tried it"""


def demo_questions() -> list[str]:
    """Distinct questions on the demo bot's notes, in a fixed shuffled order: none repeats,
    so the query cache never answers them."""
    openers, topics, tails = (
        [" ".join(part.split()) for part in words.split("|")]
        for words in (_OPENERS, _TOPICS, _TAILS)
    )
    asked = [
        f"{o} {t} {tail}".strip() + "?" for o, t, tail in itertools.product(openers, topics, tails)
    ]
    random.Random(7).shuffle(asked)
    return asked
