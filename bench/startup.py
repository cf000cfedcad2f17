"""Benchmark of start-up: how long each ``chorus`` command takes to be useful, in fresh
processes, the way a user runs them.

Every command runs as ``python -m core ...`` (the same as ``chorus ...``) with this
checkout first on ``PYTHONPATH``, default settings (the Chorus variables of the
environment are removed) and its working directory in a temporary folder, so that
``DATA_DIR`` is the default relative ``./data`` there, as in a user's project folder (the
repository's own ``./data`` is never touched). Measured, ``--runs`` times each, wall clock
from starting the process:

- ``chorus --help`` and ``chorus bot list``, to their exit;
- ``printf 'hi\\n' | chorus chat demo``, to the first line of the reply;
- ``chorus serve``, to ``GET /health`` answering 200 and to ``GET /ready`` answering 200,
  on a fresh data folder (a new empty one each run: the schema is created and the demo
  bot learns its notes) and on an existing one.

Each is also timed in CPU seconds (user + system, every thread) that the process had
used by then: on a machine shared with other work, wall times stretch with the load and
CPU times much less. One uncounted round of each first warms the disk cache and creates
the existing data folder. Then ``python -X importtime -c 'import core.cli.main'`` lists the
modules that cost most, cumulatively. It also checks, in the server's output, that
"serving on" is logged only once ``/health`` answers and that the demo's address is
printed.

From the repository root: ``python bench/startup.py`` (a minute or two), or
``--runs 3``. Results go to ``bench/results/startup.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import os
import re
import resource
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import stop_server
from bench.reporting import Conditions, print_table, write_results
from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "startup.json"
PACKAGES = ("core", "channels", "bots", "knowledge", "billing", "webwidget")
CHORUS = (sys.executable, "-m", "core")
POLL_SECONDS = 0.02
TIMEOUT = 120.0
TOP_IMPORTS = 15

HELP = "chorus --help"
LIST = "chorus bot list"
CHAT = "printf 'hi\\n' | chorus chat demo: first reply"
HEALTH_FRESH = "chorus serve: /health 200, fresh data"
READY_FRESH = "chorus serve: /ready 200, fresh data"
HEALTH_EXISTING = "chorus serve: /health 200, existing data"
READY_EXISTING = "chorus serve: /ready 200, existing data"
#: seconds each case must stay under (its median), on the 2-core development machine
TARGETS = {
    HELP: 0.5,
    LIST: 1.5,
    CHAT: 3.0,
    HEALTH_FRESH: 3.0,
    READY_FRESH: 5.0,
    HEALTH_EXISTING: 3.0,
    READY_EXISTING: 5.0,
}


@dataclass(frozen=True, slots=True)
class Row:
    case: str
    target_s: float
    runs: int
    median_s: float
    max_s: float
    passed: str  # "yes" when the median is under the target
    cpu_median_s: float


@dataclass(frozen=True, slots=True)
class Timing:
    """Wall seconds from a process's start to a moment, and the CPU seconds it had used."""

    wall_s: float
    cpu_s: float


@dataclass(frozen=True, slots=True)
class Served:
    """One ``chorus serve``: timed to ``/health`` and ``/ready`` answering 200, with the
    seconds to the start of the last ``/health`` request that failed and to the lines it
    wrote (seconds, text)."""

    health: Timing
    ready: Timing
    last_failed_s: float | None
    lines: list[tuple[float, str]]

    def said(self, pattern: str) -> float | None:
        """When the first line matching ``pattern`` was written, if one was."""
        return next((at for at, text in self.lines if re.search(pattern, text)), None)


def environment() -> dict[str, str]:
    """This environment without the variables Chorus reads (default settings), with this
    checkout first on the import path."""
    ours = {name.upper() for name in Settings.model_fields}
    env = {name: value for name, value in os.environ.items() if name.upper() not in ours}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process so far, all its threads (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's children that have exited."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


async def command(
    args: Sequence[str], cwd: Path, env: dict[str, str], stdin: bytes | None = None
) -> Timing:
    """``chorus ARGS`` timed to its exit, or with ``stdin`` to the first line it prints
    (then it is left to finish); raises if it fails."""
    reaped = children_cpu_seconds()
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *CHORUS,
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(TIMEOUT):
        if stdin is None:
            out, err = await process.communicate()
            timing = Timing(time.perf_counter() - started, children_cpu_seconds() - reaped)
        else:
            assert process.stdin is not None
            assert process.stdout is not None
            process.stdin.write(stdin)
            await process.stdin.drain()
            process.stdin.close()
            first = b""
            while not first.strip():
                first = await process.stdout.readline()
                if not first:
                    break
            timing = Timing(time.perf_counter() - started, cpu_seconds(process.pid))
            out, err = await process.communicate()
            out = first + out
    if process.returncode != 0 or not out.strip():
        raise RuntimeError(
            f"chorus {' '.join(args)} exited with {process.returncode}:\n"
            f"{(out + err).decode(errors='replace')[-3000:]}"
        )
    return timing


async def serve(cwd: Path, env: dict[str, str]) -> Served:
    """Start ``chorus serve`` on a free port, time it to ``/health`` and ``/ready``
    answering 200, then stop it with SIGTERM."""
    port = free_port()
    lines: list[tuple[float, str]] = []
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *CHORUS,
        "serve",
        "--port",
        str(port),
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    readers = [
        asyncio.create_task(_collect(stream, started, lines))
        for stream in (process.stdout, process.stderr)
    ]
    try:
        async with aiohttp.ClientSession() as session, asyncio.timeout(TIMEOUT):
            base = f"http://127.0.0.1:{port}"
            health, failed = await _until_200(session, f"{base}/health", process, started)
            ready, _ = await _until_200(session, f"{base}/ready", process, started)
    finally:
        await stop_server(process)
        await asyncio.gather(*readers)
    return Served(health, ready, failed, lines)


async def _collect(
    stream: asyncio.StreamReader, started: float, lines: list[tuple[float, str]]
) -> None:
    while line := await stream.readline():
        lines.append((time.perf_counter() - started, line.decode(errors="replace").rstrip()))


async def _until_200(
    session: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process, started: float
) -> tuple[Timing, float | None]:
    """The process timed to the first 200 from ``url``, and the seconds to the start of
    the last try that got none (refused, or another status)."""
    failed = None
    while process.returncode is None:
        asked = time.perf_counter() - started
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(url) as response:
                if response.status == 200:
                    wall = time.perf_counter() - started
                    return Timing(wall, cpu_seconds(process.pid)), failed
        failed = asked
        await asyncio.sleep(POLL_SECONDS)
    raise RuntimeError(f"the server exited with {process.returncode} before {url} answered 200")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def importtime(cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """``python -X importtime -c 'import core.cli.main'``: how many modules, how long in all,
    and the costliest by cumulative time."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-X",
        "importtime",
        "-c",
        "import core.cli.main",
        cwd=cwd,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    entries = []
    for line in err.decode().splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if found:
            self_us, cumulative_us, indent, module = found.groups()
            entries.append((module, int(self_us), int(cumulative_us), len(indent) // 2))
    top = sorted(entries, key=lambda entry: entry[2], reverse=True)[:TOP_IMPORTS]
    return {
        "modules": len(entries),
        "seconds": round(sum(entry[1] for entry in entries) / 1e6, 3),
        "top": [
            {"module": m, "cumulative_ms": round(c / 1000, 1), "self_ms": round(s / 1000, 1)}
            for m, s, c, _ in top
        ],
    }


async def run(runs: int) -> dict[str, Any]:
    env = environment()
    samples: dict[str, list[Timing]] = {case: [] for case in TARGETS}
    served: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="chorus-startup-") as scratch:
        existing = Path(scratch) / "existing"
        existing.mkdir()
        for round_ in range(runs + 1):
            counted = round_ > 0  # the first round warms up and creates ./data
            fresh = Path(scratch) / f"fresh-{round_}"
            fresh.mkdir()
            measured = {
                HELP: await command(["--help"], existing, env),
                LIST: await command(["bot", "list"], existing, env),
                CHAT: await command(["chat", "demo"], existing, env, stdin=b"hi\n"),
            }
            for folder, health, ready in (
                (fresh, HEALTH_FRESH, READY_FRESH),
                (existing, HEALTH_EXISTING, READY_EXISTING),
            ):
                server = await serve(folder, env)
                measured |= {health: server.health, ready: server.ready}
                if counted:
                    served.append(_checked(server, "fresh" if folder == fresh else "existing"))
            if counted:
                for case, timing in measured.items():
                    samples[case].append(timing)
            print(
                f"  {'round ' + str(round_) if counted else 'warm-up'}: "
                + ", ".join(f"{t.wall_s:.2f} ({t.cpu_s:.2f})" for t in measured.values())
                + " s (CPU s)",
                flush=True,
            )
        imports = await importtime(existing, env)
    return {"samples": samples, "served": served, "imports": imports}


def _checked(server: Served, data: str) -> dict[str, Any]:
    """What a server run said, and when: "serving on" must not come before ``/health``
    answers (it is logged once the socket listens), the demo's address must be printed."""
    serving = server.said(r"serving on http://")
    address = server.said(r"http://[^ ]+:\d+/\s*$")
    return {
        "data": data,
        "health_s": round(server.health.wall_s, 3),
        "ready_s": round(server.ready.wall_s, 3),
        "health_last_failed_s": None
        if server.last_failed_s is None
        else round(server.last_failed_s, 3),
        "serving_logged_s": None if serving is None else round(serving, 3),
        "address_printed_s": None if address is None else round(address, 3),
        "lines": [(round(at, 3), text) for at, text in server.lines],
    }


def rows(samples: dict[str, list[Timing]]) -> list[Row]:
    table = []
    for case, timings in samples.items():
        wall = statistics.median(t.wall_s for t in timings)
        table.append(
            Row(
                case,
                TARGETS[case],
                len(timings),
                round(wall, 2),
                round(max(t.wall_s for t in timings), 2),
                "yes" if wall < TARGETS[case] else "NO",
                round(statistics.median(t.cpu_s for t in timings), 2),
            )
        )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="counted runs of each (default 5)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    # byte-compiled beforehand, so that no run pays for compiling a changed module
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)
    with Conditions() as conditions:
        found = asyncio.run(run(max(1, args.runs)))
    table = rows(found["samples"])
    print_table(f"Start-up, seconds ({conditions.describe('other work')})", table)
    imports = found["imports"]
    print_table(
        f"python -X importtime -c 'import core.cli.main': {imports['modules']:,} modules, "
        f"{imports['seconds']:.2f} s; the costliest (ms)",
        imports["top"],
    )
    early = [run for run in found["served"] if _early(run)]
    silent = [run for run in found["served"] if run["address_printed_s"] is None]
    print(
        f"\nchorus serve: 'serving on' logged before /health answered in {len(early)} of "
        f"{len(found['served'])} runs; no demo address printed in {len(silent)}"
    )
    write_results(args.json, conditions, {"runs": args.runs, "rows": table, **found})
    return 0 if all(row.passed == "yes" for row in table) and not early and not silent else 1


def _early(run: dict[str, Any]) -> bool:
    """Whether a request to ``/health`` sent after "serving on" was logged got no answer."""
    logged, failed = run["serving_logged_s"], run["health_last_failed_s"]
    return logged is not None and failed is not None and failed > logged


if __name__ == "__main__":
    sys.exit(main())
