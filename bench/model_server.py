"""Benchmark of the clients of model servers: what streaming an answer through
``OpenAICompatGenerator`` (SSE over aiohttp) and ``OllamaGenerator`` (NDJSON through the
``ollama`` package) adds on top of the model.

Each client talks to its fake server from ``tests/fakes/`` in this process, which speaks
the real wire format and plays a model:

- latency: 100 ms to the first chunk, then 10 ms between chunks (a short answer of
  ~14 chunks); ``first_ms`` and ``total_ms`` are what the client adds to those delays
  (prompt assembly, the request, parsing, clocks, breaker), p50 and p95 of ``--runs``
  streamed answers after a warm-up;
- throughput: 500 chunks sent without delay; ``us_per_token`` is the wall time per
  streamed chunk, the fake's own cost of writing it included (both run on one loop);
  the ``raw SSE read`` row reads the same stream with bare aiohttp and no parsing, the
  floor that the OpenAI client's cost compares with.

Run from the repository root::

    python bench/model_server.py              # ~30 s on a 2-core machine
    python bench/model_server.py --runs 21    # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import listening
from bench.reporting import Conditions, ms, print_table, write_results
from bots.profile import BotProfile
from core.generation.ollama import OllamaGenerator
from core.generation.openai_compat import OpenAICompatGenerator
from core.generation.remote import RemoteChatModel
from core.generation.seams import AnswerRequest
from knowledge.passages import Passage
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_chat import API_KEY, DEFAULT_MODEL, FakeOpenAIChat

RESULTS = Path(__file__).resolve().parent / "results" / "model_server.json"
FIRST_DELAY = 0.1
CHUNK_DELAY = 0.01
LONG_CHUNKS = 500  # under the 512 tokens an answer may use
NOTES = (
    "Breathe in slowly through the nose for four counts, hold for a moment, and let the "
    "breath go through the mouth for six counts. Longer out-breaths calm the body. "
) * 4
REQUEST = AnswerRequest(
    bot=BotProfile(id="bench", name="Mira", persona="A calm breathing teacher."),
    question="How do I breathe to calm down?",
    passages=[Passage(NOTES[i : i + 300], "Notes", 0.9, page=1) for i in (0, 200, 400)],
)

Fake = FakeOllama | FakeOpenAIChat
Backend = tuple[str, Callable[[], Fake], Callable[[str], RemoteChatModel]]
BACKENDS: list[Backend] = [
    (
        "openai-compat (SSE, aiohttp)",
        lambda: FakeOpenAIChat(api_key=API_KEY),
        lambda url: OpenAICompatGenerator(
            base_url=f"{url}/v1", model=DEFAULT_MODEL, api_key=API_KEY, total_timeout=600
        ),
    ),
    (
        "ollama (NDJSON, ollama/httpx)",
        FakeOllama,
        lambda url: OllamaGenerator(host=url, total_timeout=600),
    ),
]


async def _stream(generator: RemoteChatModel) -> tuple[float, float, int]:
    """Seconds to the first delta and to the end, and the number of deltas."""
    start = time.perf_counter()
    first, count = 0.0, 0
    async for _delta in generator.stream_answer(REQUEST):
        count += 1
        first = first or time.perf_counter() - start
    return first, time.perf_counter() - start, count


async def latency(
    name: str, fake: Fake, make: Callable[[str], RemoteChatModel], runs: int
) -> dict[str, Any]:
    fake.chat_delay, fake.chunk_delay = FIRST_DELAY, CHUNK_DELAY
    firsts, totals = [], []
    async with listening(fake.app()) as url:
        generator = make(url)
        try:
            await _stream(generator)  # warm-up: the connection, imports
            for _ in range(runs):
                first, total, _count = await _stream(generator)
                firsts.append(first - FIRST_DELAY)
                totals.append(total - FIRST_DELAY - CHUNK_DELAY * (len(fake.reply_chunks()) - 1))
        finally:
            await generator.aclose()
    return {
        "client": name,
        "first_ms_p50": ms(firsts, 50),
        "first_ms_p95": ms(firsts, 95),
        "total_ms_p50": ms(totals, 50),
        "total_ms_p95": ms(totals, 95),
    }


async def throughput(
    name: str, fake: Fake, make: Callable[[str], RemoteChatModel], runs: int
) -> dict[str, Any]:
    fake.reply = "calm " * LONG_CHUNKS
    per_token = []
    async with listening(fake.app()) as url:
        generator = make(url)
        try:
            await _stream(generator)
            for _ in range(max(3, runs // 5)):
                _first, total, count = await _stream(generator)
                per_token.append(total / count)
        finally:
            await generator.aclose()
    return {"client": name, "us_per_token": round(statistics.median(per_token) * 1e6, 1)}


async def raw_sse(runs: int) -> dict[str, Any]:
    """The same 500-chunk SSE stream read with bare aiohttp: the floor."""
    fake = FakeOpenAIChat(reply="calm " * LONG_CHUNKS)
    body = {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    per_token = []
    async with listening(fake.app()) as url, aiohttp.ClientSession() as session:
        for _ in range(max(3, runs // 5) + 1):
            start = time.perf_counter()
            async with session.post(f"{url}/v1/chat/completions", json=body) as response:
                async for _chunk in response.content.iter_any():
                    pass
            per_token.append((time.perf_counter() - start) / LONG_CHUNKS)
    return {
        "client": "raw SSE read (aiohttp, no parsing)",
        "us_per_token": round(statistics.median(per_token[1:]) * 1e6, 1),
    }


async def run(runs: int) -> list[dict[str, Any]]:
    rows = []
    for name, fake, make in BACKENDS:
        row = await latency(name, fake(), make, runs)
        row.update(
            {k: v for k, v in (await throughput(name, fake(), make, runs)).items() if k != "client"}
        )
        rows.append(row)
        print(f"[{len(rows)}/{len(BACKENDS) + 1}] {name}", flush=True)
    rows.append(await raw_sse(runs))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=51, help="streamed answers per latency row")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    with Conditions() as conditions:
        rows = asyncio.run(run(args.runs))
    print_table(
        f"What a client adds to a streamed answer (ms over the model's own delays; "
        f"{args.runs} runs; us_per_token over {LONG_CHUNKS} chunks)",
        rows,
    )
    print(conditions.describe())
    write_results(args.json, conditions, {"runs": args.runs, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
