"""Broadcasts end to end: a creator's message to every subscriber, within each channel's
limits and rules.

The real app runs against the fake Bot API (the manager bot and the creator's own bot)
and the fake Twilio Messages API (the agent's WhatsApp number); widget visitors get the
message in their stored chat log. The 1,000-subscriber broadcast runs on a clock the
test controls: the pace of each channel is checked on that clock, and what arrived at
the fakes is checked message by message.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select, update

from core.messages import Channel
from core.outreach.audience import BLOCKED, NO_PUSH, OPTED_OUT
from core.outreach.broadcasts import CANCELLED, INTERRUPTED, Broadcasts
from core.runtime.ratelimit import Decision, Limit, LocalBuckets
from core.services import SERVICES, Services
from core.storage.models import (
    Broadcast,
    BroadcastRecipient,
    ChannelIdentity,
    Conversation,
    EndUser,
    Message,
    WhatsAppContact,
    WidgetFrame,
    utcnow,
)
from tests.api import bearer, problem, register
from tests.chat import Chat
from tests.clock import Clock
from tests.coach import BOT, COACH_TOKEN, MANAGER_TOKEN, Platform, green_tea_coach
from tests.test_channels.telegram_app import Client

RIVAL = 3_002
TEMPLATE = "HX" + "b" * 32
NEWS = "New this week: a five-minute tea ritual for the afternoon slump. Send /create to try it."
RATES = {"telegram": 25.0, "whatsapp": 20.0, "widget": 50.0}


def telegram_texts(platform: Platform) -> dict[str, list[str]]:
    """What the agent's Telegram bot sent each chat."""
    sent: dict[str, list[str]] = {}
    for c in platform.telegram.calls_for("sendMessage", COACH_TOKEN):
        if c.status == 200:
            sent.setdefault(str(c.chat_id), []).append(str(c.params["text"]))
    return sent


def whatsapp_sent(platform: Platform) -> dict[str, list[dict[str, str]]]:
    """The messages created for each WhatsApp number."""
    sent: dict[str, list[dict[str, str]]] = {}
    for c in platform.twilio.calls_for():
        if c.operation == "create_message" and c.status == 201:
            sent.setdefault(c.params["To"].removeprefix("whatsapp:"), []).append(c.params)
    return sent


@pytest.fixture
async def platform(
    app_database: dict[str, str], aiohttp_server: AiohttpServer, tmp_path: Path
) -> AsyncIterator[Platform]:
    # the broadcast's own pace is under test; Telegram's per-request pacing is not
    async with green_tea_coach(
        aiohttp_server, tmp_path / "data", telegram_messages_per_second=1000, **app_database
    ) as platform:
        platform.twilio.templates[TEMPLATE] = "News from Green Tea Coach: {{1}}"
        yield platform


# -- subscribers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscriber:
    """A seeded user: where they are known, and what a broadcast should do for them."""

    identities: tuple[tuple[str, str], ...]  # (channel, external id), in creation order
    opted_out: bool = False
    unreachable: bool = False  # marked so after an earlier refusal
    blocked_now: bool = False  # the Bot API refuses (403) the next message
    wrote_hours_ago: float | None = None  # a WhatsApp user's last message

    @property
    def expected(self) -> tuple[str, str, str | None]:
        """(status, channel, reason) the broadcast should end with."""
        channels = [c for c, _ in self.identities]
        channel = next((c for c in ("telegram", "whatsapp", "widget") if c in channels), None)
        if self.opted_out:
            return "skipped", channel or channels[0], OPTED_OUT
        if channel is None:
            return "skipped", channels[0], NO_PUSH
        if self.unreachable:
            return "skipped", channel, BLOCKED
        if self.blocked_now:
            return "failed", channel, BLOCKED
        return "delivered", channel, None


def thousand() -> list[Subscriber]:
    """1,000 subscribers on mixed channels: 490 on Telegram, 300 on WhatsApp (half of
    them outside the 24-hour window), 150 on the website, 50 on both Telegram and
    WhatsApp, 10 only in the terminal; every 33rd opted out, a few blocked the bot."""
    people: list[Subscriber] = []
    for n in range(1000):
        opted_out = n % 33 == 5
        if n < 490:
            chat = str(100_000 + n)
            people.append(
                Subscriber(
                    (("telegram", chat),),
                    opted_out,
                    unreachable=n % 50 == 7,
                    blocked_now=n % 50 == 9,
                )
            )
        elif n < 790:
            hours = (1.0, 30.0, None)[n % 3]
            people.append(
                Subscriber((("whatsapp", f"+4477009{n:05d}"),), opted_out, wrote_hours_ago=hours)
            )
        elif n < 940:
            people.append(Subscriber((("widget", f"visitor-{n:05d}"),), opted_out))
        elif n < 990:
            both = (("whatsapp", f"+4477009{n:05d}"), ("telegram", str(100_000 + n)))
            people.append(Subscriber(both, opted_out, wrote_hours_ago=2.0))
        else:
            people.append(Subscriber((("terminal", f"console-{n}"),), opted_out))
    return people


async def seed(services: Services, people: list[Subscriber]) -> dict[int, Subscriber]:
    """Store the subscribers with their conversations, as if each had talked to the bot."""
    now = utcnow()
    by_id: dict[int, Subscriber] = {}
    async with services.db.transaction() as session:
        users = [
            EndUser(bot_id=BOT, display_name=f"User {n}", opted_out_at=now if p.opted_out else None)
            for n, p in enumerate(people)
        ]
        session.add_all(users)
        await session.flush()
        for user, person in zip(users, people, strict=True):
            by_id[user.id] = person
            session.add(Conversation(bot_id=BOT, end_user_id=user.id, state="chat", context={}))
            for channel, external_id in person.identities:
                session.add(
                    ChannelIdentity(
                        bot_id=BOT,
                        channel=channel,
                        external_id=external_id,
                        end_user_id=user.id,
                        reachable=not person.unreachable,
                    )
                )
                if channel == "whatsapp" and person.wrote_hours_ago is not None:
                    session.add(
                        WhatsAppContact(
                            bot_id=BOT,
                            number=external_id,
                            last_inbound_at=now - timedelta(hours=person.wrote_hours_ago),
                        )
                    )
    return by_id


class VirtualTime(Clock):
    """A clock that moves only when something sleeps on it: sleepers wake in the order
    of the moments they sleep until, and the clock is set to each one's moment."""

    def __init__(self, now: float) -> None:
        super().__init__(now)
        self._waking: list[float] = []

    async def sleep(self, seconds: float) -> None:
        until = self.now + max(0.0, seconds)
        heapq.heappush(self._waking, until)
        try:
            while True:
                await asyncio.sleep(0)
                if self._waking[0] >= until:  # nobody is due before this sleeper
                    break
        finally:
            self._waking.remove(until)
            heapq.heapify(self._waking)
        self.now = max(self.now, until)


class GrantLog(LocalBuckets):
    """Token buckets that remember when, on their clock, each token was taken."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.clock = clock
        self.granted: dict[str, list[float]] = {}

    async def take(self, key: str, limit: Limit, cost: int = 1) -> Decision:
        decision = await super().take(key, limit, cost)
        if decision.allowed:
            self.granted.setdefault(key, []).append(self.clock())
        return decision


def most_in_a_second(times: list[float]) -> int:
    """The most moments within any one second (a window that includes its start only)."""
    most, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0 - 1e-9:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_a_broadcast_reaches_1000_subscribers_on_mixed_channels_within_the_limits(
    platform: Platform,
) -> None:
    services = platform.services
    await services.bots.change_settings(BOT, whatsapp_template={"content_sid": TEMPLATE})
    people = await seed(services, thousand())
    for person in people.values():
        if person.blocked_now:
            platform.telegram.blocked.add(int(person.identities[0][1]))
    clock = VirtualTime(0.0)
    buckets = GrantLog(clock)
    broadcasts = Broadcasts(
        services.db,
        services.bots,
        services.engine.system_turn,
        services.outbox,
        services.jobs,
        buckets,
        RATES,
        sleep=clock.sleep,
        clock=clock,
    )

    audience = await broadcasts.audience(BOT)
    expected = {user_id: person.expected for user_id, person in people.items()}
    delivered = [e for e in expected.values() if e[0] == "delivered"]
    would_reach = sum(1 for e in expected.values() if e[0] != "skipped")
    assert audience.total == would_reach
    assert audience.opted_out == sum(1 for e in expected.values() if e[2] == OPTED_OUT)
    assert audience.whatsapp_template is True

    broadcast_id = await broadcasts.start(BOT, NEWS, origin="api")
    assert broadcast_id is not None
    await services.jobs.idle()

    # every recipient ended as the rules say, on the channel they should be reached on
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(
                    BroadcastRecipient.end_user_id,
                    BroadcastRecipient.status,
                    BroadcastRecipient.channel,
                    BroadcastRecipient.reason,
                ).where(BroadcastRecipient.broadcast_id == broadcast_id)
            )
        ).all()
    assert {r[0]: (r[1], r[2], r[3]) for r in rows} == expected

    # what arrived at the platforms: one message for each delivered user, none for others
    telegram = telegram_texts(platform)
    whatsapp = whatsapp_sent(platform)
    for user_id, person in people.items():
        status, channel, _ = expected[user_id]
        address = dict(person.identities)[channel]
        if channel == "telegram":
            assert telegram.get(address, []) == ([NEWS] if status == "delivered" else [])
        elif channel == "whatsapp":
            sent = whatsapp.get(address, [])
            if status != "delivered":
                assert sent == []
            elif person.wrote_hours_ago is not None and person.wrote_hours_ago < 24:
                assert [m.get("Body") for m in sent] == [NEWS]  # free-form in the window
            else:  # after 24 hours only the approved template may start a conversation
                assert [m.get("ContentSid") for m in sent] == [TEMPLATE]
                assert json.loads(sent[0]["ContentVariables"]) == {"1": NEWS[:200]}
    assert len(telegram) == sum(1 for e in delivered if e[1] == "telegram")
    assert len(whatsapp) == sum(1 for e in delivered if e[1] == "whatsapp")
    async with services.db.read() as session:
        pushed = list(
            await session.scalars(
                select(WidgetFrame.frame).where(
                    WidgetFrame.bot_id == BOT, WidgetFrame.kind == "push"
                )
            )
        )
        stored = await session.scalar(
            select(Message.id).where(Message.direction == "out", Message.text == NEWS).limit(1)
        )
        still_reachable = await session.scalar(
            select(ChannelIdentity.reachable).where(
                ChannelIdentity.external_id == str(100_009), ChannelIdentity.channel == "telegram"
            )
        )
    assert len(pushed) == sum(1 for e in delivered if e[1] == "widget")
    assert all(frame["message"]["text"] == NEWS for frame in pushed)
    assert stored is not None  # kept in each user's conversation, like any message
    assert still_reachable is False  # the refusal marked the user: no more attempts

    # each channel's pace, on the controlled clock: never more than its limit in any
    # second, and the channels ran side by side (the slowest one sets the duration)
    for channel, rate in RATES.items():
        times = buckets.granted[f"broadcast:{channel}:{BOT}"]
        assert len(times) == sum(
            1 for e in expected.values() if e[0] != "skipped" and e[1] == channel
        )
        assert most_in_a_second(times) <= rate
        assert all(b - a >= 1 / rate - 1e-9 for a, b in itertools.pairwise(times))
    lanes = [len(buckets.granted[f"broadcast:{c}:{BOT}"]) / r for c, r in RATES.items()]
    assert max(lanes) - 1 <= clock.now < 0.8 * sum(lanes)

    report = await broadcasts.report(BOT, broadcast_id)
    assert report is not None
    assert report.status == "done"
    assert report.count("delivered") == len(delivered)
    assert report.total == 1000
    assert report.reasons[OPTED_OUT] == audience.opted_out

    # running the job again sends nothing twice
    before = len(platform.telegram.calls) + len(platform.twilio.calls)
    await broadcasts.run(str(broadcast_id))
    assert len(platform.telegram.calls) + len(platform.twilio.calls) == before


async def test_a_creator_broadcasts_from_the_manager_bot_after_seeing_who_it_reaches(
    platform: Platform,
) -> None:
    services = platform.services
    people = [
        Subscriber((("telegram", "4001"),)),
        Subscriber((("telegram", "4002"),), opted_out=True),
        Subscriber((("whatsapp", "+447700900123"),), wrote_hours_ago=3.0),
        Subscriber((("whatsapp", "+447700900124"),), wrote_hours_ago=50.0),
        Subscriber((("widget", "visitor-1"),)),
    ]
    await seed(services, people)

    (preview,) = await platform.manager(f"/broadcast {NEWS}")
    assert preview.startswith("Broadcast 1 for Green Tea Coach would reach 4 people: ")
    assert "1 on Telegram, 2 on WhatsApp, 1 on the website" in preview
    assert "1 of the WhatsApp users can't be reached" in preview
    assert "Skipped: 1 opted out with /stop" in preview
    assert f"“{NEWS}”" in preview
    buttons = platform.telegram.calls_for("sendMessage", MANAGER_TOKEN)[-1].params["reply_markup"]
    assert "/broadcast send 1" in str(buttons)
    assert "/broadcast cancel 1" in str(buttons)
    assert telegram_texts(platform) == {}  # nothing goes out before the creator confirms

    # another creator can neither see nor send it
    await platform.manager("/newbot Rival Agent", creator=RIVAL)
    (refused,) = await platform.manager("/broadcast send 1", creator=RIVAL)
    assert refused == "Rival Agent has no broadcast 1. /broadcast lists the latest."

    said = await platform.manager("/broadcast send 1")
    assert "Sending broadcast 1 to 4 people. I'll tell you how it goes here." in said
    assert said[-1].startswith("Broadcast 1 finished: 3 of 5 delivered.")
    assert "Delivered: Telegram 1, WhatsApp 1, the website 1." in said[-1]
    assert "Failed: 1." in said[-1]
    assert "Skipped: 1." in said[-1]
    assert "1 outside the 24-hour window and no approved template is configured" in said[-1]
    assert telegram_texts(platform) == {"4001": [NEWS]}
    assert list(whatsapp_sent(platform)) == ["+447700900123"]

    # pressing Send again does not send it twice; the list shows how it went
    again = await platform.manager("/broadcast send 1")
    assert again[0].startswith("Broadcast 1 finished: 3 of 5 delivered.")
    assert telegram_texts(platform) == {"4001": [NEWS]}
    (listing,) = await platform.manager("/broadcast")
    assert "Green Tea Coach's latest broadcasts:" in listing
    assert "Broadcast 1 finished" in listing


async def test_a_spanish_creator_is_told_how_their_broadcast_goes_in_spanish(
    platform: Platform,
) -> None:
    """The preview is in the creator's language, and so are the progress and the outcome
    told later, when the broadcast is sent outside their turn."""
    await seed(
        platform.services,
        [
            Subscriber((("telegram", "4001"),)),
            Subscriber((("telegram", "4002"),), opted_out=True),
            Subscriber((("widget", "visitor-1"),)),
        ],
    )
    (preview,) = await platform.manager(f"/broadcast {NEWS}", language="es")
    assert preview.startswith("El envío masivo 1 de Green Tea Coach llegaría a 2 personas: ")
    assert "1 en Telegram, 1 en la web." in preview
    assert "Omitidos: 1 se dio de baja con /stop." in preview
    assert preview.endswith("¿Lo envío?")
    buttons = platform.telegram.calls_for("sendMessage", MANAGER_TOKEN)[-1].params["reply_markup"]
    assert "Enviar a 2" in str(buttons)
    assert "Cancelar" in str(buttons)

    said = await platform.manager("/broadcast send 1", language="es")
    assert "Enviando el envío masivo 1 a 2 personas. Te contaré aquí cómo va." in said
    assert said[-1].startswith("El envío masivo 1 ha terminado: 2 de 3 entregados.")
    assert "Entregados: Telegram 1, la web 1." in said[-1]
    assert "Motivos: 1 se dio de baja con /stop." in said[-1]
    assert not [line for line in said if line.startswith("Broadcast ")]
    (listing,) = await platform.manager("/broadcast", language="es")
    assert listing.startswith("Últimos envíos masivos de Green Tea Coach:")
    (too_long,) = await platform.manager("/broadcast " + "x" * 4001, language="es")
    assert too_long == "Un envío masivo puede tener como máximo 4.000 caracteres."


async def test_a_draft_can_be_cancelled_and_nothing_is_sent(platform: Platform) -> None:
    await seed(platform.services, [Subscriber((("telegram", "4001"),))])
    await platform.manager("/broadcast Hello everyone")
    (cancelled,) = await platform.manager("/broadcast cancel 1")
    assert cancelled.startswith("Broadcast 1 was cancelled: 0 of 0 delivered.")
    await platform.manager("/broadcast send 1")
    assert telegram_texts(platform) == {}
    (empty,) = await platform.manager("/broadcast    ")
    assert "Broadcast 1 was cancelled" in empty
    assert (
        "can be at most 4,000 characters" in (await platform.manager("/broadcast " + "x" * 4001))[0]
    )


async def test_nobody_to_reach_is_said_plainly(platform: Platform) -> None:
    await seed(platform.services, [Subscriber((("terminal", "console"),))])
    (said,) = await platform.manager("/broadcast Hello")
    assert said == "Nobody can get a message from Green Tea Coach yet."


async def test_an_interrupted_broadcast_resumes_without_sending_anyone_twice(
    platform: Platform,
) -> None:
    services = platform.services
    people = await seed(services, [Subscriber((("telegram", str(5000 + n)),)) for n in range(6)])
    assert services.broadcasts is not None
    broadcast_id = await services.broadcasts.start(BOT, NEWS, origin="api")
    await services.jobs.idle()
    # as if a process died: one recipient claimed long ago, two never sent
    first, *others = sorted(people)
    async with services.db.transaction() as session:
        await session.execute(
            update(BroadcastRecipient)
            .where(BroadcastRecipient.end_user_id == first)
            .values(status="sending", updated_at=utcnow() - timedelta(hours=1))
        )
        await session.execute(
            update(BroadcastRecipient)
            .where(BroadcastRecipient.end_user_id.in_(others[:2]))
            .values(status="pending")
        )
        await session.execute(
            update(Broadcast).where(Broadcast.id == broadcast_id).values(status="sending")
        )
    sent_before = len(platform.telegram.calls_for("sendMessage", COACH_TOKEN))
    assert await services.broadcasts.resume() == 1
    await services.jobs.idle()
    assert len(platform.telegram.calls_for("sendMessage", COACH_TOKEN)) == sent_before + 2
    report = await services.broadcasts.report(BOT, broadcast_id or 0)
    assert report is not None
    assert report.status == "done"
    assert report.reasons == {INTERRUPTED: 1}
    assert report.count("delivered") == 5


async def test_the_api_shows_the_audience_sends_and_reports_a_broadcast(api: Client) -> None:
    headers = bearer((await register(api))["access_token"])
    created = await api.post("/api/v1/bots", json={"name": "Tea Guide"}, headers=headers)
    bot = (await created.json())["id"]
    engine = api.app[SERVICES].engine
    people = (("v-1", Channel.WIDGET), ("v-2", Channel.WIDGET), ("c", Channel.TERMINAL))
    for sender, channel in people:
        await Chat(engine, sender_id=sender, bot_id=bot, channel=channel).say("/start")

    audience = await (await api.get(f"/api/v1/bots/{bot}/audience", headers=headers)).json()
    assert audience["total"] == 2
    assert audience["channels"] == {"widget": 2}
    assert audience["unreachable"] == 1

    once = {**headers, "Idempotency-Key": "news-1"}
    response = await api.post(f"/api/v1/bots/{bot}/broadcasts", json={"text": NEWS}, headers=once)
    assert response.status == 202, await response.text()
    sent = await response.json()
    assert sent["status"] == "sending"
    assert sent["origin"] == "api"
    assert sent["total"] == 3
    again = await api.post(f"/api/v1/bots/{bot}/broadcasts", json={"text": NEWS}, headers=once)
    assert (await again.json())["id"] == sent["id"]  # the same request is one broadcast
    await api.app[SERVICES].jobs.idle()

    url = f"/api/v1/bots/{bot}/broadcasts/{sent['id']}"
    done = await (await api.get(url, headers=headers)).json()
    assert done["status"] == "done"
    assert done["counts"] == {"pending": 0, "sending": 0, "delivered": 2, "failed": 0, "skipped": 1}
    assert done["channels"]["widget"]["delivered"] == 2
    assert done["reasons"] == {NO_PUSH: 1}
    assert done["finished_at"] is not None
    listing = await (await api.get(f"/api/v1/bots/{bot}/broadcasts", headers=headers)).json()
    assert [b["id"] for b in listing["items"]] == [sent["id"]]
    # a finished broadcast stays as it was
    cancelled = await api.post(f"{url}/cancel", headers=headers)
    assert (await cancelled.json())["status"] == "done"

    empty = await api.post(f"/api/v1/bots/{bot}/broadcasts", json={"text": ""}, headers=headers)
    await problem(empty, 422)
    missing = await api.get(f"/api/v1/bots/{bot}/broadcasts/999999", headers=headers)
    await problem(missing, 404)


async def test_a_broadcast_cancelled_while_it_is_sent_stops_at_once(platform: Platform) -> None:
    services = platform.services
    await seed(services, [Subscriber((("telegram", str(6000 + n)),)) for n in range(5)])
    clock, gate = VirtualTime(0.0), asyncio.Event()

    async def held(seconds: float) -> None:  # the second message waits for the test
        await gate.wait()
        await clock.sleep(seconds)

    broadcasts = Broadcasts(
        services.db,
        services.bots,
        services.engine.system_turn,
        services.outbox,
        services.jobs,
        LocalBuckets(clock),
        RATES,
        lane_workers=1,
        sleep=held,
        clock=clock,
    )
    broadcast_id = await broadcasts.start(BOT, NEWS, origin="api")
    assert broadcast_id is not None
    await platform.telegram.wait_for("sendMessage", 1, token=COACH_TOKEN)
    cancelled = await broadcasts.cancel(BOT, broadcast_id)
    assert cancelled is not None
    assert cancelled.status == "cancelled"
    gate.set()
    await services.jobs.idle()

    assert len(telegram_texts(platform)) == 1
    report = await broadcasts.report(BOT, broadcast_id)
    assert report is not None
    assert report.status == "cancelled"
    assert report.counts == {"delivered": 1, "skipped": 4}
    assert report.reasons == {CANCELLED: 4}
