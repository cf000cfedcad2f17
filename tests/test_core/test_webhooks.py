"""Outgoing webhooks (SQLite and PostgreSQL): endpoints managed through the API and
refused when unsafe or not the caller's; events stored with the change they report,
delivered signed (the signature verifies with the endpoint's secret), retried with
backoff on a clock the test controls until one succeeds, then never again; given up
after the last attempt; sent once however many processes look."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select

from core.app import SERVICES
from core.messages import Channel
from core.runtime import integrations
from core.runtime.integrations import BACKOFF, Dispatcher, verify
from core.services import Services
from core.settings import Settings
from core.storage.models import Creator, WebhookDelivery, WebhookEndpoint, utcnow
from tests.api import bearer, problem, register
from tests.chat import Chat
from tests.test_channels.telegram_app import Client, services_ready, start


@dataclass
class Receiver:
    """A creator's system: answers each delivery with the next of ``answers`` (then 200)."""

    answers: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
async def receiver(aiohttp_server: AiohttpServer) -> Receiver:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hooks", found.handle)
    server = await aiohttp_server(app)
    found.url = str(server.make_url("/hooks"))
    return found


async def test_endpoints_are_managed_checked_and_kept_to_their_creator(api: Client) -> None:
    owner = bearer((await register(api))["access_token"])
    made = await api.post("/api/v1/bots", json={"name": "Hooked"}, headers=owner)
    bot = (await made.json())["id"]
    url = "/api/v1/webhooks"
    for bad in ("http://example.com/x", "https://10.0.0.7/x", "https://[::1]/x", "ftp://a.b/c"):
        refused = await api.post(
            url, json={"url": bad, "events": ["content.generated"]}, headers=owner
        )
        await problem(refused, 422)
    unknown = await api.post(
        url, json={"url": "https://example.com/x", "events": ["everything"]}, headers=owner
    )
    await problem(unknown, 422)

    intruder = bearer((await register(api))["access_token"])
    theirs = await api.post(
        url,
        json={"url": "https://example.com/x", "events": ["content.generated"], "bot_id": bot},
        headers=intruder,
    )
    await problem(theirs, 404)

    created = await api.post(
        url,
        json={"url": "https://example.com/x", "events": ["payment.completed"], "bot_id": bot},
        headers=owner,
    )
    assert created.status == 201, await created.text()
    endpoint = await created.json()
    assert endpoint["secret"].startswith("whsec_")
    listed = await (await api.get(url, headers=owner)).json()
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert "secret" not in listed[0]
    one = f"{url}/{endpoint['id']}"
    changed = await api.patch(
        one, json={"events": ["handoff.requested", "payment.completed"], "active": False},
        headers=owner,
    )  # fmt: skip
    assert (await changed.json())["events"] == ["handoff.requested", "payment.completed"]
    assert (await changed.json())["active"] is False

    for method, path in (
        ("GET", one),
        ("PATCH", one),
        ("DELETE", one),
        ("GET", one + "/deliveries"),
        ("POST", one + "/deliveries/dlv_x/retry"),
    ):
        options = {"json": {"active": True}} if method == "PATCH" else {}
        await problem(await api.request(method, path, headers=intruder, **options), 404)
    assert await (await api.get(url, headers=intruder)).json() == []
    assert (await api.delete(one, headers=owner)).status == 204
    assert await (await api.get(url, headers=owner)).json() == []


async def test_a_new_conversation_is_delivered_signed(
    settings: Settings, receiver: Receiver
) -> None:
    client = await start(
        settings.model_copy(update={"allow_private_urls": True, "webhook_poll_seconds": 0.05})
    )
    try:
        await services_ready(client)
        owner = bearer((await register(client))["access_token"])
        bot = (
            await (await client.post("/api/v1/bots", json={"name": "Hi"}, headers=owner)).json()
        )["id"]
        other = (
            await (await client.post("/api/v1/bots", json={"name": "Other"}, headers=owner)).json()
        )["id"]
        made = await client.post(
            "/api/v1/webhooks",
            json={"url": receiver.url, "events": ["conversation.started"], "bot_id": bot},
            headers=owner,
        )
        endpoint = await made.json()
        engine = client.app[SERVICES].engine
        await Chat(engine, sender_id="ana", bot_id=bot, channel=Channel.TELEGRAM).say("/start")
        await Chat(engine, sender_id="ana", bot_id=bot, channel=Channel.TELEGRAM).say("hello")
        await Chat(engine, sender_id="bea", bot_id=other).say("/start")  # another bot
        for _ in range(200):
            if receiver.received:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # nothing more is coming
        assert len(receiver.received) == 1
        headers, body = receiver.received[0]
        now = int(utcnow().timestamp())
        assert verify(endpoint["secret"], headers["Chorus-Signature"], body, now)
        assert not verify("whsec_wrong", headers["Chorus-Signature"], body, now)
        assert not verify(endpoint["secret"], headers["Chorus-Signature"], body + b" ", now)
        assert not verify(endpoint["secret"], headers["Chorus-Signature"], body, now + 3600)
        event = json.loads(body)
        assert event["type"] == headers["Chorus-Event"] == "conversation.started"
        assert event["bot_id"] == bot
        assert event["data"]["channel"] == "telegram"
        listing = await client.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=owner)
        (delivery,) = (await listing.json())["items"]
        assert delivery["id"] == headers["Chorus-Delivery"]
        assert delivery["status"] == "delivered"
        assert delivery["attempts"] == 1
        assert delivery["last_status"] == 200
    finally:
        await client.close()


@dataclass
class Clock:
    now: datetime = field(default_factory=utcnow)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def endpoint_for(services: Services, url: str, events: list[str]) -> tuple[str, str]:
    """A creator with a bot and an endpoint for ``events``; the bot id and the secret."""
    async with services.db.transaction() as session:
        creator = Creator(name="Ana")
        session.add(creator)
        await session.flush()
        creator_id = creator.id
    bot = await services.bots.create("Hooked", creator=None, owner=creator_id)
    secret = integrations.new_secret()
    async with services.db.transaction() as session:
        session.add(
            WebhookEndpoint(
                id=f"we_{bot.id}"[:32], creator_id=creator_id, bot_id=None, url=url,
                events=events, secret=secret, active=True, created_at=utcnow(),
            )
        )  # fmt: skip
    return bot.id, secret


async def deliveries(services: Services) -> list[WebhookDelivery]:
    async with services.db.read() as session:
        return list(await session.scalars(select(WebhookDelivery)))


async def test_failed_deliveries_are_retried_until_one_succeeds(
    services: Services, receiver: Receiver
) -> None:
    bot, secret = await endpoint_for(services, receiver.url, ["content.generated"])
    async with services.db.transaction() as session:
        stored = await integrations.record(session, bot, "content.generated", {"content_id": 7})
        skipped = await integrations.record(session, bot, "payment.completed", {})
    assert (stored, skipped) == (1, 0)
    clock = Clock()
    dispatcher = Dispatcher(services.db, allow_private_urls=True, clock=clock)
    receiver.answers = [500, 503]
    try:
        assert await dispatcher.deliver_due() == 1
        (delivery,) = await deliveries(services)
        assert delivery.status == "pending"
        assert delivery.last_status == 500
        # not due again until its backoff has passed
        clock.advance(BACKOFF[0] - timedelta(seconds=1))
        assert await dispatcher.deliver_due() == 0
        clock.advance(timedelta(seconds=2))
        assert await dispatcher.deliver_due() == 1
        clock.advance(BACKOFF[1] + timedelta(seconds=1))
        assert await dispatcher.deliver_due() == 1
        (delivery,) = await deliveries(services)
        assert delivery.status == "delivered"
        assert delivery.attempts == 3
        # delivered: never sent again
        clock.advance(timedelta(days=3))
        assert await dispatcher.deliver_due() == 0
    finally:
        await dispatcher.close()
    assert len(receiver.received) == 3
    # every attempt is the same event, signed again at its own time
    assert len({body for _, body in receiver.received}) == 1
    for headers, body in receiver.received:
        moment = int(headers["Chorus-Signature"].split(",")[0][2:])
        assert verify(secret, headers["Chorus-Signature"], body, moment)


async def test_a_delivery_fails_after_its_last_attempt(
    services: Services, receiver: Receiver
) -> None:
    bot, _ = await endpoint_for(services, receiver.url, ["handoff.requested"])
    async with services.db.transaction() as session:
        await integrations.record(session, bot, "handoff.requested", {"user_id": 1})
    clock = Clock()
    dispatcher = Dispatcher(services.db, allow_private_urls=True, clock=clock)
    receiver.answers = [500] * 50
    try:
        for _ in range(len(BACKOFF) + 1):
            assert await dispatcher.deliver_due() == 1
            clock.advance(timedelta(days=2))
        assert await dispatcher.deliver_due() == 0
    finally:
        await dispatcher.close()
    (delivery,) = await deliveries(services)
    assert delivery.status == "failed"
    assert delivery.attempts == len(BACKOFF) + 1
    assert len(receiver.received) == len(BACKOFF) + 1


async def test_a_due_delivery_is_sent_once_by_competing_processes(
    services: Services, receiver: Receiver
) -> None:
    bot, _ = await endpoint_for(services, receiver.url, ["conversation.started"])
    async with services.db.transaction() as session:
        for n in range(5):
            await integrations.record(session, bot, "conversation.started", {"n": n})
    senders = [Dispatcher(services.db, allow_private_urls=True) for _ in range(3)]
    try:
        claimed = await asyncio.gather(*(s.deliver_due() for s in senders))
    finally:
        for sender in senders:
            await sender.close()
    assert sum(claimed) == 5
    assert sorted(b["data"]["n"] for b in receiver.bodies()) == [0, 1, 2, 3, 4]


async def test_private_addresses_are_never_called_by_default(services: Services) -> None:
    bot, _ = await endpoint_for(services, "https://127.0.0.1:9/hooks", ["content.generated"])
    async with services.db.transaction() as session:
        await integrations.record(session, bot, "content.generated", {})
    dispatcher = Dispatcher(services.db)
    try:
        assert await dispatcher.deliver_due() == 1
    finally:
        await dispatcher.close()
    (delivery,) = await deliveries(services)
    assert delivery.status == "pending"
    assert "private" in (delivery.last_error or "")


async def test_a_user_asking_for_a_person_is_announced_with_the_turn(
    services: Services, receiver: Receiver
) -> None:
    bot, _ = await endpoint_for(services, receiver.url, ["handoff.requested"])
    chat = Chat(services.engine, sender_id="ben", bot_id=bot, channel=Channel.WHATSAPP)
    await chat.say("Can I talk to a real person please?")
    dispatcher = Dispatcher(services.db, allow_private_urls=True)
    try:
        assert await dispatcher.deliver_due() == 1
    finally:
        await dispatcher.close()
    (event,) = receiver.bodies()
    assert event["type"] == "handoff.requested"
    assert event["data"]["channel"] == "whatsapp"
    assert event["data"]["command"] is False
    assert "person" not in json.dumps(event)  # the words stay in the conversation
    assert event["data"]["user_id"] > 0
