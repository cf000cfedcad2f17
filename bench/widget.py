"""Benchmark of the web widget: sockets one process holds, round trips under load, size.

A real server (``python -m core serve``, SQLite, speech off) runs in its own process on a
fresh ``DATA_DIR``; this process is the crowd of browsers, speaking the widget protocol
(``webwidget/PROTOCOL.md``) over aiohttp WebSockets:

1. the widget's size, raw and gzipped (``gzip -9``);
2. idle sockets: ``--sockets`` visitors connect, say hello and stay, answering the
   server's heartbeats, for ``--hold`` seconds; the sockets still open then are what the
   process holds, its resident memory before and after gives the memory per socket, and
   one more visitor's round trip shows the server still answers;
3. active sockets: ``--active`` of them stay; each sends a message at random moments (on
   average every ``--interval`` seconds, ``/help``, which needs no retrieval) and pings;
   p50/p95 of ping -> pong, message -> ack and message -> complete reply.

Both processes share the machine's cores (the load average is recorded). Run from the
repository root::

    python bench/widget.py            # 10,000 idle sockets, 1,000 active, ~2 min
    python bench/widget.py --quick    # 1,000 and 200
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import random
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import ROOT, ServerProcess, start_server
from bench.reporting import Conditions, ms, print_table, write_results

WIDGET = ROOT / "webwidget" / "widget.js"
RESULTS = Path(__file__).parent / "results" / "widget.json"
GOALS = {"idle_sockets": 10_000, "gzipped_kb": 20.0}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Visitor:
    """One browser tab: a socket that has said hello, and its pending requests."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def join(cls, session: aiohttp.ClientSession, url: str) -> Visitor:
        ws = await session.ws_connect(url, heartbeat=None, max_msg_size=0)
        await ws.send_json({"type": "hello", "last_seq": 0})
        while True:
            frame = json.loads((await ws.receive(timeout=60)).data)
            if frame["type"] == "welcome":
                return cls(ws)

    def listen(self) -> None:
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        # reading also answers the server's heartbeat pings, which keeps the socket open
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            await self._frames()

    async def _frames(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            key = {
                "pong": "pong",
                "ack": f"ack:{frame.get('id')}",
                "typing": "done" if frame.get("on") is False else None,
            }.get(frame["type"])
            if key and (future := self.waiting.pop(key, None)) and not future.done():
                future.set_result(time.perf_counter())

    async def ping(self) -> float:
        future = self._expect("pong")
        started = time.perf_counter()
        await self.ws.send_json({"type": "ping"})
        return (await asyncio.wait_for(future, 60)) - started

    async def ask(self, text: str) -> tuple[float, float]:
        frame_id = f"c-{random.getrandbits(64):x}"
        acked, done = self._expect(f"ack:{frame_id}"), self._expect("done")
        started = time.perf_counter()
        await self.ws.send_json({"type": "message", "id": frame_id, "text": text})
        ack = await asyncio.wait_for(acked, 120)
        reply = await asyncio.wait_for(done, 120)
        return ack - started, reply - started

    def _expect(self, key: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[key] = future
        return future


async def open_many(
    session: aiohttp.ClientSession, url: str, count: int, concurrency: int = 200
) -> list[Visitor]:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> Visitor:
        async with gate:
            visitor = await Visitor.join(session, url)
        visitor.listen()
        return visitor

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def active_load(
    visitors: list[Visitor], seconds: float, interval: float
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"ping": [], "ack": [], "reply": []}
    deadline = time.perf_counter() + seconds

    async def behave(visitor: Visitor) -> None:
        while time.perf_counter() < deadline:
            pause = random.expovariate(1 / interval)
            if time.perf_counter() + pause >= deadline:
                return
            await asyncio.sleep(pause)
            timings["ping"].append(await visitor.ping())
            ack, reply = await visitor.ask("/help")
            timings["ack"].append(ack)
            timings["reply"].append(reply)

    await asyncio.gather(*(behave(v) for v in visitors))
    return timings


def chorus_serve(
    data_dir: Path, port: int
) -> contextlib.AbstractAsyncContextManager[ServerProcess]:
    """``python -m core serve`` on ``port`` with a fresh ``data_dir``, speech off."""
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "SPEECH_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    command = ("-m", "core", "serve", "--host", "127.0.0.1", "--port", str(port))
    return start_server(command, data_dir.parent / "server.log", port=port, env=env)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if WIDGET.exists():
        raw = WIDGET.read_bytes()
        results["widget_bytes"] = len(raw)
        results["widget_gzipped_bytes"] = len(gzip.compress(raw, compresslevel=9))
    port = free_port()
    url = f"ws://127.0.0.1:{port}/ws/widget/demo"
    with tempfile.TemporaryDirectory(prefix="chorus-bench-") as tmp:
        connector = aiohttp.TCPConnector(limit=0)
        async with (
            chorus_serve(Path(tmp) / "data", port) as server,
            aiohttp.ClientSession(connector=connector) as session,
        ):
            warm = await Visitor.join(session, url)
            warm.listen()
            await warm.ask("hello")
            await asyncio.sleep(1)
            before = server.rss_mb()
            started = time.perf_counter()
            idle = await open_many(session, url, args.sockets)
            opened = time.perf_counter() - started
            # held through at least one heartbeat round (the server pings every 25 s)
            await asyncio.sleep(args.hold)
            after = server.rss_mb()
            open_now = sum(not v.ws.closed for v in idle)
            results.update(
                idle_sockets=open_now,
                held_s=args.hold,
                connect_s=round(opened, 2),
                connects_per_s=round(len(idle) / opened, 1),
                server_rss_mb_before=round(before, 1),
                server_rss_mb_after=round(after, 1),
                kb_per_socket=round((after - before) * 1024 / len(idle), 1),
                ping_ms_with_idle=round(await warm.ping() * 1000, 2),
            )
            for visitor in idle[args.active :]:
                await visitor.ws.close()
            active = [v for v in idle[: args.active] if not v.ws.closed]
            timings = await active_load(active, args.seconds, args.interval)
            results.update(
                active_sockets=len(active),
                messages=len(timings["reply"]),
                messages_per_s=round(len(timings["reply"]) / args.seconds, 1),
            )
            for name, values in timings.items():
                results[f"{name}_p50_ms"] = ms(values, 50)
                results[f"{name}_p95_ms"] = ms(values, 95)
            for visitor in active:
                await visitor.ws.close()
    return results


def report(results: dict[str, Any], conditions: Conditions) -> None:
    """The results as a table of measures, then the goals and the run's conditions."""
    rows = [{"measure": key, "value": value} for key, value in results.items()]
    print_table("Web widget: one server process, its sockets and round trips", rows)
    size = results.get("widget_gzipped_bytes")
    print(
        f"\ngoals: {GOALS['idle_sockets']:,} idle sockets "
        f"({'met' if results['idle_sockets'] >= GOALS['idle_sockets'] else 'NOT met'}); "
        f"widget ≤ {GOALS['gzipped_kb']:g} KB gzipped "
        f"({'n/a' if size is None else 'met' if size <= GOALS['gzipped_kb'] * 1024 else 'NOT met'})"
    )
    print(conditions.describe("the server and the crowd of browsers"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--active", type=int, default=1_000)
    parser.add_argument(
        "--hold", type=float, default=35.0, help="seconds the idle sockets are held"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the active run")
    parser.add_argument(
        "--interval", type=float, default=10.0, help="mean seconds between a visitor's messages"
    )
    parser.add_argument("--quick", action="store_true", help="1,000 idle and 200 active sockets")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args()
    if args.quick:
        args.sockets, args.active, args.seconds, args.hold = 1_000, 200, 10.0, 5.0
    with Conditions() as conditions:
        results = asyncio.run(measure(args))
    report(results, conditions)
    write_results(args.json, conditions, {"goals": GOALS, "results": results})


if __name__ == "__main__":
    main()
