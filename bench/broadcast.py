"""Benchmark of broadcasts: how long a message to 1,000 subscribers takes against the
channels' limits.

Chorus runs in this process (services built from settings, as ``chorus serve`` builds
them, speech off) with the fake Bot API (``tests/fakes/telegram_api.py``) and the fake
Twilio Messages API (``tests/fakes/twilio_api.py``) beside it, each answering after a
network-like delay (Telegram 30 ms, Twilio 100 ms). A bot with its own Telegram token
and WhatsApp number gets its subscribers written straight into the database (a user,
an identity and a conversation each; WhatsApp users wrote within the day), then one
broadcast is started and timed until its last recipient is settled.

``floor`` is the least time the channels' limits allow (the slowest channel's
recipients over its rate: Telegram 25/s, WhatsApp 20/s, the website 50/s, the
defaults); ``peak`` is the most messages that arrived at a fake within any one second.
Every recipient is also stored in their conversation, so the database's write speed is
in the time. From the repository root: ``python bench/broadcast.py`` (~4 min) or
``--quick`` (200 subscribers), ``--skip-postgres``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.api import POSTGRES
from bench.engine import postgres_database
from bench.reporting import Conditions, print_table, write_results
from core.services import Services, build_services, close, prepare
from core.settings import Settings
from core.storage.models import ChannelIdentity, Conversation, EndUser, WhatsAppContact, utcnow
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio
from tests.fakes.twilio_requests import ACCOUNT_SID, AUTH_TOKEN, BUSINESS_NUMBER

RESULTS = Path(__file__).parent / "results" / "broadcast.json"
TOKEN = "7100000001:AAE-token-of-the-creators-own-bot-000000"  # noqa: S105 - the fake's
TEXT = "New this week: a five-minute tea ritual for the afternoon slump. Send /create to try it."
TELEGRAM_LATENCY = 0.03
TWILIO_LATENCY = 0.1
# (case, Telegram, WhatsApp, website) subscribers out of 1,000
MIXES = (("all on Telegram", 1.0, 0.0, 0.0), ("mixed", 0.6, 0.3, 0.1))


@dataclass(frozen=True, slots=True)
class Result:
    case: str
    database: str
    subscribers: int
    seconds: float
    floor_s: float  # the least the channels' limits allow
    over_floor: str
    telegram_peak_per_s: int
    whatsapp_peak_per_s: int
    delivered: int
    cpu_ms_per_message: float  # this process: Chorus and the fakes


@contextlib.asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def subscribe(
    services: Services, bot_id: str, telegram: int, whatsapp: int, web_: int
) -> None:
    """Write the subscribers as if each had talked to the bot today."""
    now = utcnow()
    people = (
        [("telegram", str(100_000 + n)) for n in range(telegram)]
        + [("whatsapp", f"+4477009{n:05d}") for n in range(whatsapp)]
        + [("widget", f"visitor-{n:05d}") for n in range(web_)]
    )
    async with services.db.transaction() as session:
        users = [EndUser(bot_id=bot_id, display_name=f"User {n}") for n in range(len(people))]
        session.add_all(users)
        await session.flush()
        for user, (channel, external_id) in zip(users, people, strict=True):
            session.add(Conversation(bot_id=bot_id, end_user_id=user.id, state="chat", context={}))
            session.add(
                ChannelIdentity(
                    bot_id=bot_id, channel=channel, external_id=external_id, end_user_id=user.id
                )
            )
            if channel == "whatsapp":
                session.add(WhatsAppContact(bot_id=bot_id, number=external_id, last_inbound_at=now))


async def measure(
    database: str, url: str | None, case: tuple[str, float, float, float], size: int
) -> Result:
    name, telegram_share, whatsapp_share, _ = case
    counts = (round(size * telegram_share), round(size * whatsapp_share))
    counts = (*counts, size - sum(counts))
    telegram = FakeTelegram(latency=TELEGRAM_LATENCY)
    telegram.add_bot(TOKEN, username="tea_coach_bot")
    twilio = FakeTwilio(latency=TWILIO_LATENCY)
    with tempfile.TemporaryDirectory() as data:
        async with served(telegram.app()) as telegram_url, served(twilio.app()) as twilio_url:
            twilio.base_url = twilio_url
            settings = Settings(
                data_dir=Path(data),
                database_url=url,
                telegram_api_base=telegram_url,
                twilio_account_sid=ACCOUNT_SID,
                twilio_auth_token=AUTH_TOKEN,
                twilio_api_base=twilio_url,
                speech_enabled=False,
                public_base_url="https://chorus.example",
            )
            services = build_services(settings)
            try:
                await prepare(services)
                bot = await services.bots.create(
                    "Tea Coach", creator=("telegram", "1"), creator_name=""
                )
                await services.telegram.attach(bot.id, TOKEN)
                await services.whatsapp.attach(bot.id, BUSINESS_NUMBER)
                await subscribe(services, bot.id, *counts)
                assert services.broadcasts is not None
                cpu, started = time.process_time(), time.perf_counter()
                broadcast = await services.broadcasts.start(bot.id, TEXT, origin="api")
                assert broadcast is not None
                while (report := await services.broadcasts.report(bot.id, broadcast)) is not None:
                    if report.status == "done":
                        break
                    await asyncio.sleep(0.05)
                seconds = time.perf_counter() - started
                cpu = time.process_time() - cpu
            finally:
                await close(services)
    assert report is not None
    rates = (
        settings.broadcast_telegram_per_second,
        settings.broadcast_whatsapp_per_second,
        settings.broadcast_widget_per_second,
    )
    floor = max(n / rate for n, rate in zip(counts, rates, strict=True))
    sent_at = sorted(c.at for c in twilio.calls if c.operation == "create_message")
    return Result(
        case=name,
        database=database,
        subscribers=size,
        seconds=round(seconds, 2),
        floor_s=round(floor, 2),
        over_floor=f"{(seconds / floor - 1) * 100:+.0f} %",
        telegram_peak_per_s=telegram.max_in_window(1.0, token=TOKEN),
        whatsapp_peak_per_s=_most_in_a_second(sent_at),
        delivered=report.count("delivered"),
        cpu_ms_per_message=round(cpu * 1000 / size, 2),
    )


def _most_in_a_second(times: list[float]) -> int:
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def run(size: int, postgres: str | None) -> list[Result]:
    results = []
    for case in MIXES:
        results.append(await measure("SQLite", None, case, size))
        print(f"  {case[0]} on SQLite: {results[-1].seconds} s", flush=True)
        if postgres:
            async with postgres_database(postgres) as url:
                results.append(await measure("PostgreSQL", url, case, size))
            print(f"  {case[0]} on PostgreSQL: {results[-1].seconds} s", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="200 subscribers instead of 1,000")
    parser.add_argument("--skip-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    size = 200 if args.quick else 1000
    with Conditions() as conditions:
        results = asyncio.run(run(size, None if args.skip_postgres else POSTGRES))
    print_table(f"A broadcast to {size:,} subscribers ({conditions.describe()})", results)
    write_results(args.json, conditions, {"subscribers": size, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
