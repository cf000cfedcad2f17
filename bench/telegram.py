"""Benchmark of Telegram turns per server process: updates/s through the webhook, and the
latency from an Update's POST to its reply at the Bot API.

The server under test runs in a process of its own, as ``chorus serve`` runs it
(``create_app(Settings(...))``, no access log), on a fresh ``DATA_DIR`` whose demo bot has
its notes ingested by ``prepare``; the bot is attached to the fake Bot API
(``tests/fakes/telegram_api.py``), which runs in this process next to the load generator.
Each simulated user has a private chat: it POSTs real Update JSON
(``tests/fakes/telegram_updates.py``) to ``/webhooks/telegram/demo`` with the secret token
header, waits until its reply has reached the fake Bot API, then sends its next update (a
closed loop: people wait for the answer). 1 chat and 100 chats are separate cases, for:

- no retrieval: ``/start``, ``/help``, ``/create meditation``, the guided flow's answers
  and ``/cancel``, round after round;
- questions: distinct questions on the demo notes (the question is embedded, Chroma and
  BM25 searched, the grounded composer answers with sources); none repeats, so the query
  cache never helps;
- repeated questions: the users ask 20 questions over and over (the query cache's case).

Latency runs from just before the POST to the arrival of the turn's last ``sendMessage``;
``ack`` is the webhook's 200 (the update is stored by then). Updates/s is a case's updates
over the wall clock from its first POST to its last reply. Before timing, every user sends
``/start`` and the server has answered one question (model loaded).

In the same run, with the same client and load generator: a bare aiohttp handler that only
reads the body and answers 200 (a process of its own), and the configured query embedder
alone, embedding the same questions in each batch size (its best counts).

Outgoing pace: ``telegram_messages_per_second`` is raised to 1,000 (the most ``Settings``
allows) and ``telegram_chat_interval`` set to 0 s, so the cases measure our processing,
not Telegram's flood limits. With the defaults (Telegram's real limits) one bot sends at
most 30 replies a second, and a chat one a second, whatever the server could do.

The two cores are shared by the server, the fake Bot API and the load generator (the CPU
use of both processes and the load average are recorded). Run from the repository root:
``python bench/telegram.py`` (~1.5 min on two cores) or ``--quick`` (~45 s).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import harness
from bench.reporting import Conditions, print_table, write_results
from core.services import Services
from core.settings import Settings
from knowledge.embeddings import create_embedder
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import command_update, text_update

RESULTS = Path(__file__).parent / "results" / "telegram.json"
GOALS = {"updates_per_s_without_retrieval": 500.0, "questions_share_of_embedder": 0.8}
TOKEN = "7000000001:AAF-bench-token-for-the-demo-bot_01234567"  # noqa: S105 - the fake's
BOT = "demo"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
MESSAGES_PER_SECOND = 1000.0  # the most Settings allows; the product default is 30
CHATS = (1, 100)
BARE_ROUNDS = 10  # the bare handler's cases are this many times larger
#: one round of the turns without retrieval: (command, arguments) or plain text
SCRIPT: tuple[tuple[str, str] | str, ...] = (
    ("start", ""),
    ("help", ""),
    ("create", "meditation"),
    "sleeping well",
    "bedtime",
    "restless",
    "3",
    "slow",
    ("cancel", ""),
)
REPEATED = 20  # questions in the repeated-questions case

Users = harness.ClosedLoop[int, bytes]
Plans = dict[int, tuple[list[bytes], list[int]]]


@dataclass(frozen=True, slots=True)
class Result:
    server: str  # "chorus" or "bare aiohttp"
    turns: str  # "no retrieval", "questions", "repeated questions"; bare: "none"
    chats: int
    updates: int
    seconds: float
    updates_per_s: float
    ack_p50_ms: float  # the webhook's 200
    p50_ms: float  # POST -> the turn's last reply at the Bot API
    p95_ms: float
    p99_ms: float
    server_cpu: float  # CPU seconds of the server process per wall second (2 = two cores)
    server_cpu_ms: float  # the server's CPU time per update
    bench_cpu: float  # CPU seconds per wall second of this process: fake Bot API and client


@dataclass(frozen=True, slots=True)
class EmbedderRow:
    embedder: str
    batch: int
    queries: int
    seconds: float
    queries_per_s: float


def update_for(step: tuple[str, str] | str, user_id: int) -> dict[str, Any]:
    if isinstance(step, tuple):
        return command_update(*step, user_id=user_id)
    return text_update(step, user_id=user_id)


def encoded(update: dict[str, Any]) -> bytes:
    return json.dumps(update).encode()


# -- the server process ---------------------------------------------------------------


async def serve_one(kind: str, api_base: str, data_dir: Path) -> None:
    """The process under test: Chorus with the demo bot attached to the Bot API at
    ``api_base``, or the bare handler, until SIGTERM."""
    if kind == "bare":
        app = web.Application()

        async def accept(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(text="ok")

        app.router.add_post("/webhooks/telegram/{bot_id}", accept)
        await harness.serve(app)
        return
    settings = Settings(
        data_dir=data_dir,
        telegram_api_base=api_base,
        public_base_url="https://chorus.example",
        telegram_messages_per_second=MESSAGES_PER_SECOND,
        telegram_chat_interval=0.0,
        speech_enabled=False,
        # a load test floods a few chats on purpose: no per-user limit
        user_messages_per_minute=0,
    )

    async def attach(services: Services) -> None:
        assert services.telegram is not None
        await services.telegram.attach(BOT, TOKEN)

    await harness.serve_chorus(settings, attach)


# -- the fake Bot API side ------------------------------------------------------------


def fake_bot_api() -> tuple[FakeTelegram, harness.ReplyClock[int]]:
    """The fake Bot API with the demo bot's token, and a clock of the ``sendMessage``
    calls reaching it."""
    fake = FakeTelegram()
    fake.add_bot(TOKEN, username="mira_demo_bot")

    def newest() -> harness.Reply[int] | None:
        call = fake.calls[-1]
        if call.method == "sendMessage" and isinstance(call.chat_id, int):
            return harness.Reply(call.chat_id, call.at, "")
        return None

    return fake, harness.ReplyClock(newest)


def webhook(
    session: aiohttp.ClientSession, url: str, secret: str
) -> Callable[[int, bytes], Awaitable[None]]:
    """POST an encoded update (the user is in it) to the demo bot's webhook at ``url``."""
    hook = f"{url}/webhooks/telegram/{BOT}"
    headers = {SECRET_HEADER: secret, "Content-Type": "application/json"}

    async def post(_user: int, update: bytes) -> None:
        async with session.post(hook, data=update, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"the webhook answered {response.status}")

    return post


async def run_case(
    users: Users, server: harness.ServerProcess, name: str, turns: str, plans: Plans
) -> Result:
    """Every user of ``plans`` (user id -> updates, messages expected for each) at once."""
    case = await users.run(server, plans)
    measures = case.columns("updates", acks=(50,), replies=(50, 95, 99))
    result = Result(server=name, turns=turns, chats=len(plans), **measures)
    print(f"  {name} {turns} x {len(plans)}: {result.updates_per_s} updates/s", flush=True)
    return result


# -- the cases ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sizes:
    rounds: tuple[int, int]  # rounds of SCRIPT per user, with 1 chat and with 100
    questions: tuple[int, int]  # questions per user, likewise (also the repeated case's)
    embedder_queries: int


FULL = Sizes(rounds=(60, 6), questions=(200, 12), embedder_queries=600)
QUICK = Sizes(rounds=(20, 1), questions=(60, 4), embedder_queries=300)
TURNS = ("no retrieval", "questions", "repeated questions")


async def measure_chorus(
    users: Users, server: harness.ServerProcess, sizes: Sizes, asked: list[str]
) -> list[Result]:
    """Every Chorus case against one server process; ``asked`` gives up the questions."""
    results: list[Result] = []
    ids = itertools.count(100_001)
    expected: dict[int, int] = {}  # the messages each user must have had in the end
    tester = next(ids)
    script = [await users.calibrate(tester, encoded(update_for(s, tester))) for s in SCRIPT]
    # the first answer loads the model and the notes' index: not part of any case
    answer = await users.calibrate(tester, encoded(text_update(asked.pop(), user_id=tester)))
    expected[tester] = sum(script) + answer
    print(f"  messages per turn: script {script}, question {answer}", flush=True)
    faq = [asked.pop() for _ in range(REPEATED)]
    for turns in TURNS:
        for size, chats in enumerate(CHATS):
            people = [next(ids) for _ in range(chats)]
            await asyncio.gather(
                *(
                    users.converse(u, [encoded(update_for(SCRIPT[0], u))], script[:1])
                    for u in people
                )
            )
            plans: Plans = {}
            for n, user in enumerate(people):
                if turns == "no retrieval":
                    steps = [update_for(s, user) for _ in range(sizes.rounds[size]) for s in SCRIPT]
                    counts = script * sizes.rounds[size]
                else:
                    texts = [
                        faq[(n + i) % REPEATED] if turns == "repeated questions" else asked.pop()
                        for i in range(sizes.questions[size])
                    ]
                    steps = [text_update(text, user_id=user) for text in texts]
                    counts = [answer] * len(steps)
                plans[user] = ([encoded(s) for s in steps], counts)
                expected[user] = script[0] + sum(counts)
            results.append(await run_case(users, server, "chorus", turns, plans))
    await users.check(expected)
    return results


async def measure_bare(users: Users, server: harness.ServerProcess, sizes: Sizes) -> list[Result]:
    """The bare handler, with ``BARE_ROUNDS`` times as many no-retrieval updates (it
    answers in well under a millisecond)."""
    results: list[Result] = []
    ids = itertools.count(900_001)
    for size, chats in enumerate(CHATS):
        rounds = sizes.rounds[size] * BARE_ROUNDS
        plans: Plans = {}
        for user in (next(ids) for _ in range(chats)):
            steps = [encoded(update_for(s, user)) for _ in range(rounds) for s in SCRIPT]
            plans[user] = (steps, [0] * len(steps))
        results.append(await run_case(users, server, "bare aiohttp", "none", plans))
    return results


async def measure_embedder(texts: list[str], repeat: int = 2) -> list[EmbedderRow]:
    """Queries/s of the configured embedder alone on ``texts``, in each batch size (the
    best of ``repeat`` runs: the machine is shared)."""
    settings = Settings()
    embedder = create_embedder(
        settings.embedding_model,
        ollama_host=settings.ollama_host,
        ollama_model=settings.ollama_embedding_model,
    )
    await embedder.embed_queries(texts[:8])  # loads the model
    rows = []
    for batch in (1, 8, 16, 32, 64, 128):
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            for start_at in range(0, len(texts), batch):
                await embedder.embed_queries(texts[start_at : start_at + batch])
            timings.append(time.perf_counter() - started)
        seconds = min(timings)
        per_second = round(len(texts) / seconds, 1)
        rows.append(EmbedderRow(embedder.name, batch, len(texts), round(seconds, 2), per_second))
    return rows


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    asked = harness.demo_questions()
    print("embedder alone", flush=True)
    embedder = await measure_embedder(asked[: sizes.embedder_queries])
    asked.reverse()  # the cases pop from the end: the same questions first
    fake, clock = fake_bot_api()
    async with harness.rig(fake.app(), clock) as rig:
        print("bare aiohttp", flush=True)
        async with rig.start(__file__, "bare") as server:
            users = harness.ClosedLoop(webhook(rig.session, server.url, "-"), clock)
            bare = await measure_bare(users, server, sizes)
        print("chorus", flush=True)
        async with rig.start(__file__, "chorus") as server:
            secret = fake.bots[TOKEN].webhook.secret_token
            assert secret, "the server set no webhook secret"
            users = harness.ClosedLoop(webhook(rig.session, server.url, secret), clock)
            chorus = await measure_chorus(users, server, sizes, asked)
    return {"embedder": embedder, "cases": [*chorus, *bare]}


# -- report ---------------------------------------------------------------------------


def verdicts(measured: dict[str, Any]) -> dict[str, Any]:
    """Ratios against the baselines and each goal against what was measured."""
    cases: list[Result] = measured["cases"]
    best = max(measured["embedder"], key=lambda r: r.queries_per_s)

    def case(server: str, turns: str, chats: int) -> Result:
        return next(c for c in cases if (c.server, c.turns, c.chats) == (server, turns, chats))

    out: dict[str, Any] = {"embedder_best": asdict(best)}
    for chats in CHATS:
        bare = case("bare aiohttp", "none", chats).updates_per_s
        plain = case("chorus", "no retrieval", chats).updates_per_s
        asked = case("chorus", "questions", chats).updates_per_s
        out[f"{chats}_chats"] = {
            "no_retrieval_share_of_bare": round(plain / bare, 3),
            "questions_share_of_embedder": round(asked / best.queries_per_s, 3),
        }
    many = max(CHATS)
    spent = case("chorus", "questions", many).server_cpu_ms
    cpus = os.cpu_count() or 1
    # the most questions/s this CPU time per question allows with every core the server's
    ceiling = cpus * 1000 / spent
    out["questions_cpu"] = {
        "server_cpu_ms_per_question": spent,
        "embedder_alone_cpu_ms_per_query": round(cpus * 1000 / best.queries_per_s, 2),
        "ceiling_questions_per_s": round(ceiling, 1),
        "ceiling_share_of_embedder": round(ceiling / best.queries_per_s, 3),
    }
    measured_values = {
        "updates_per_s_without_retrieval": case("chorus", "no retrieval", many).updates_per_s,
        "questions_share_of_embedder": out[f"{many}_chats"]["questions_share_of_embedder"],
    }
    out["goals"] = {
        name: {"goal": GOALS[name], "measured": value, "met": value >= GOALS[name]}
        for name, value in measured_values.items()
    }
    return out


def report(measured: dict[str, Any], judged: dict[str, Any], conditions: Conditions) -> None:
    print_table("Query embedder alone (queries/s by batch size)", measured["embedder"])
    print_table(
        "Telegram webhook -> reply at the Bot API, per server process (latency in ms)",
        measured["cases"],
    )
    best = judged["embedder_best"]
    print(f"\nembedder's best: {best['queries_per_s']} queries/s in batches of {best['batch']}")
    for chats in CHATS:
        ratios = judged[f"{chats}_chats"]
        print(
            f"{chats:>3} chat(s): no retrieval at {ratios['no_retrieval_share_of_bare']:.0%} of "
            f"the bare handler; questions at {ratios['questions_share_of_embedder']:.0%} of "
            "the embedder alone"
        )
    cpu = judged["questions_cpu"]
    print(
        f"questions: {cpu['server_cpu_ms_per_question']} ms of server CPU each (the model alone "
        f"needs {cpu['embedder_alone_cpu_ms_per_query']}); with all {os.cpu_count()} cores "
        f"the server's, at most {cpu['ceiling_questions_per_s']}/s = "
        f"{cpu['ceiling_share_of_embedder']:.0%} of the embedder alone"
    )
    for name, goal in judged["goals"].items():
        state = "met" if goal["met"] else "NOT MET"
        print(
            f"goal {name} (with {max(CHATS)} chats): {goal['measured']} vs {goal['goal']}: {state}"
        )
    print(
        f"outgoing pace raised to {MESSAGES_PER_SECOND:g} messages/s per bot and 0 s per chat "
        "for these runs; the product default (Telegram's limit) caps one bot at 30 "
        "replies/s and a chat at 1/s"
    )
    print(conditions.describe("the server, the fake Bot API and the load generator"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer updates per case (~45 s)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    harness.add_serve_options(parser, ("chorus", "bare"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        asyncio.run(serve_one(args.serve, args.api_base, args.data_dir))
        return 0
    with Conditions() as conditions:
        measured = asyncio.run(run(args))
    judged = verdicts(measured)
    report(measured, judged, conditions)
    document = {
        "messages_per_second_per_bot": MESSAGES_PER_SECOND,
        "chat_interval_s": 0.0,
        "goals": GOALS,
        **measured,
        "verdicts": judged,
    }
    write_results(args.json, conditions, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
