"""Benchmark of WhatsApp turns per server process: inbound messages/s through Twilio's
webhook, and the latency from a message's POST to its reply at the Messages API.

The server runs in a process of its own, as ``chorus serve`` runs it (speech off, no
access log, a fresh ``DATA_DIR``), with the demo bot on the sandbox number; its replies
go through the twilio SDK to the fake Messages API (``tests/fakes/twilio_api.py``) in
this process, next to the load generator. Each sender POSTs Twilio's signed form
(``tests/fakes/twilio_requests.py``) to ``/webhooks/whatsapp/demo``, waits for its reply
at the fake, then sends the next (a closed loop). 1 and 100 senders, for: no retrieval
(``/help``); questions (distinct, on the demo notes, answered with sources: the query
cache never helps); the same question ("How should I breathe when I feel anxious?").

Latency runs from just before the POST to the turn's last message at the fake; ``ack``
is the webhook's own 200 (empty TwiML; the message is stored by then); messages/s is
over the wall clock from a case's first POST to its last reply. Every sender has written
once, and one question was answered (model loaded), before timing. The cores are shared
by the server, the fake and the load generator (their CPU use and the load average are
recorded). From the repository root: ``python bench/whatsapp.py`` (~1 min) or ``--quick``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness
from bench.reporting import Conditions, print_table, write_results
from core.services import Services
from core.settings import Settings
from tests.fakes.twilio_api import FakeTwilio
from tests.fakes.twilio_requests import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BUSINESS_NUMBER,
    WHATSAPP,
    Chat,
    sign,
    text_message,
)

RESULTS = Path(__file__).parent / "results" / "whatsapp.json"
BOT = "demo"
PUBLIC = "https://chorus.example"
HOOK = f"/webhooks/whatsapp/{BOT}"
SENDERS = (1, 100)
TURNS = ("no retrieval", "questions", "same question")
QUESTION = "How should I breathe when I feel anxious?"

# messages per sender in each case: (1 sender, 100 senders)
Sizes = dict[str, tuple[int, int]]
FULL: Sizes = {"no retrieval": (600, 20), "questions": (200, 6), "same question": (200, 6)}
QUICK: Sizes = {"no retrieval": (100, 5), "questions": (40, 2), "same question": (40, 2)}

Senders = harness.ClosedLoop[str, str]


@dataclass(frozen=True, slots=True)
class Result:
    turns: str
    senders: int
    messages: int
    seconds: float
    messages_per_s: float
    ack_p50_ms: float  # the webhook's 200 with empty TwiML
    ack_p95_ms: float
    p50_ms: float  # POST -> the turn's last message at the Messages API
    p95_ms: float
    sourced: str  # replies with a *Sources* block, of all
    server_cpu: float  # CPU seconds of the server process per wall second (2 = two cores)
    server_cpu_ms: float  # the server's CPU time per message
    bench_cpu: float  # CPU seconds per wall second of this process: fake and client


async def serve_one(api_base: str, data_dir: Path) -> None:
    """The process under test: Chorus, the demo bot on the sandbox number, its replies
    going to the Messages API at ``api_base``, until SIGTERM."""
    settings = Settings(
        data_dir=data_dir,
        public_base_url=PUBLIC,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base=api_base,
        speech_enabled=False,
        # a load test floods a few chats on purpose: no per-user limit
        user_messages_per_minute=0,
        log_level="WARNING",
    )

    async def attach(services: Services) -> None:
        assert services.whatsapp is not None
        await services.whatsapp.attach(BOT, BUSINESS_NUMBER)

    await harness.serve_chorus(settings, attach)


def fake_twilio() -> tuple[FakeTwilio, harness.ReplyClock[str]]:
    """The fake Messages API, and a clock of the messages created on it by number."""
    fake = FakeTwilio()

    def newest() -> harness.Reply[str] | None:
        call = fake.calls[-1]
        if call.operation == "create_message" and call.status == 201:
            number = call.params["To"].removeprefix(WHATSAPP)
            return harness.Reply(number, call.at, call.params.get("Body", ""))
        return None

    return fake, harness.ReplyClock(newest)


def webhook(session: aiohttp.ClientSession, url: str) -> Callable[[str, str], Awaitable[None]]:
    """POST Twilio's signed form of a text from a number to the bot's webhook at ``url``."""

    async def post(number: str, text: str) -> None:
        form = text_message(text, chat=Chat(user=number))
        headers = {"X-Twilio-Signature": sign(PUBLIC + HOOK, form, AUTH_TOKEN)}
        async with session.post(url + HOOK, data=form, headers=headers) as response:
            body = await response.text()
        if response.status != 200 or "<Response></Response>" not in body:
            raise RuntimeError(f"the webhook answered {response.status}: {body[:200]}")

    return post


async def run_case(
    senders: Senders,
    server: harness.ServerProcess,
    turns: str,
    plans: dict[str, list[str]],
    replies: int,
) -> Result:
    """Every sender of ``plans`` (number -> texts) at once."""
    seen = {number: senders.clock.count(number) for number in plans}
    case = await senders.run(server, {n: (t, [replies] * len(t)) for n, t in plans.items()})
    bodies = [body for n in plans for body in senders.clock.texts(n, seen[n])]
    measures = case.columns("messages", acks=(50, 95), replies=(50, 95))
    sourced = f"{sum('*Sources*' in b for b in bodies)}/{len(bodies)}"
    return Result(turns=turns, senders=len(plans), sourced=sourced, **measures)


async def measure(senders: Senders, server: harness.ServerProcess, sizes: Sizes) -> list[Result]:
    """Every case against one server process, fresh senders for each."""
    numbers = (f"+1415555{n:04d}" for n in itertools.count(1))
    asked = harness.demo_questions()
    tester = next(numbers)
    first = await senders.calibrate(tester, "/help")  # a new sender is greeted first
    per_turn = {
        "no retrieval": await senders.calibrate(tester, "/help"),
        # the first answer loads the model and the notes' index: not part of any case
        "questions": await senders.calibrate(tester, asked.pop()),
        "same question": await senders.calibrate(tester, QUESTION),
    }
    print(f"  messages: first contact {first}, then per turn {per_turn}", flush=True)

    def text(turns: str) -> str:
        return {"no retrieval": "/help", "same question": QUESTION}.get(turns) or asked.pop()

    results = []
    expected: dict[str, int] = {}  # the messages each sender must have had in the end
    for turns in TURNS:
        for size, count in enumerate(SENDERS):
            people = [next(numbers) for _ in range(count)]
            greeted = await asyncio.gather(*(senders.calibrate(p, "/help") for p in people))
            if set(greeted) != {first}:
                raise RuntimeError(f"first contacts got {set(greeted)} messages, not {first}")
            plans = {person: [text(turns) for _ in range(sizes[turns][size])] for person in people}
            expected.update({p: first + per_turn[turns] * len(t) for p, t in plans.items()})
            result = await run_case(senders, server, turns, plans, per_turn[turns])
            print(f"  {turns}, {count} sender(s): {result.messages_per_s} messages/s", flush=True)
            results.append(result)
    await senders.check(expected)
    return results


async def run(args: argparse.Namespace) -> list[Result]:
    fake, clock = fake_twilio()
    async with harness.rig(fake.app(), clock) as rig:
        fake.base_url = rig.api_base
        async with rig.start(__file__, "chorus") as server:
            senders = harness.ClosedLoop(webhook(rig.session, server.url), clock)
            return await measure(senders, server, QUICK if args.quick else FULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer messages per case")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    harness.add_serve_options(parser, ("chorus",))
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve_one(args.api_base, args.data_dir))
        return 0
    started = time.monotonic()
    with Conditions() as conditions:
        results = asyncio.run(run(args))
    print_table("WhatsApp webhook -> reply at the Messages API, one server process (ms)", results)
    print(f"\n{conditions.describe('the server, the fake and the load generator')}")
    print(f"run took {time.monotonic() - started:.0f} s")
    write_results(args.json, conditions, {"cases": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
