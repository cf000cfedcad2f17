"""Credits end to end: the paywall, Stripe Checkout from the chat, signed webhooks that
apply once, refunds into debt, and a crash between reserve and capture.

The real application runs against the fake Stripe server (the real stripe SDK creates the
sessions); events are signed with the real scheme and posted to ``/webhooks/stripe``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from core.app import SERVICES, create_app
from core.conversation.statemachine import State
from core.messages import OutboundMessage
from core.services import Services
from core.settings import Settings
from core.storage import repository as repo
from core.storage.models import ContentItem, LedgerEntry, StripeEvent
from tests.chat import Chat, chat_with
from tests.fakes.stripe_api import FakeStripe
from tests.fakes.stripe_wire import SECRET_KEY, WEBHOOK_SECRET, sign, signed

Client = TestClient[web.Request, web.Application]
RITUAL = ("/create ritual", "calm", "evening", "tired", "5", "text only")
PRICING = {
    "currency": "eur",
    "free_credits": 1,
    "costs": {"ritual": 3, "meditation": 3},
    "packs": [{"id": "small", "credits": 10, "price": 500}],
    "tiers": [{"id": "monthly", "price": 900, "credits": 40, "questions": 20}],
}


@pytest.fixture
async def stripe() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as fake:
        yield fake


@pytest.fixture
async def client(stripe: FakeStripe, database_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        speech_enabled=False,
        stripe_secret_key=SECRET_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe.url,
        public_base_url="https://chorus.example",
    )
    client: Client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    for _ in range(400):
        if (await client.get("/ready")).status == 200:
            break
        await asyncio.sleep(0.05)
    services = client.app[SERVICES]
    if not services.db.is_sqlite:
        from tests.conftest import _empty

        await _empty(services)
        from core.services import prepare

        await prepare(services)
    await services.bots.change_settings("demo", pricing=PRICING)
    yield client
    await client.close()


def services_of(client: Client) -> Services:
    return client.app[SERVICES]


async def post_event(client: Client, event: dict[str, object], **sign_with: object) -> int:
    body, headers = signed(event, **sign_with)  # type: ignore[arg-type]
    response = await client.post("/webhooks/stripe", data=body, headers=headers)
    return response.status


async def buying(client: Client, stripe: FakeStripe, offer: str) -> tuple[Services, Chat, str]:
    """A new user asks for ``offer``: the services, their chat and the checkout's id."""
    services = services_of(client)
    chat = chat_with(services)
    await chat.say("hello")
    await chat.say(f"/buy {offer}")
    [session_id] = list(stripe.sessions)
    return services, chat, session_id


async def to_paywall(chat: Chat) -> None:
    for step in RITUAL:
        await chat.say(step)
    assert "costs 3 credits" in chat.text
    await chat.press("flow:confirm")


def link(replies: list[OutboundMessage]) -> str:
    urls = [b.url for r in replies for b in r.buttons if b.url]
    assert urls, replies
    return urls[0]


async def balance(services: Services, chat: Chat) -> tuple[int, int]:
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", chat.channel.value, chat.sender_id)
    assert party is not None
    account = await services.credits.ledger.account("demo", party.end_user_id)
    assert await services.credits.ledger.total(account.id) == account.balance
    return account.balance, account.debt


async def test_paywall_checkout_and_payment_resume_the_content(
    client: Client, stripe: FakeStripe
) -> None:
    services = services_of(client)
    chat = chat_with(services)
    await to_paywall(chat)
    assert "costs 3 credits and you have 1" in chat.text
    offered = [b.payload for r in chat.last for b in r.buttons]
    assert {"buy:small", "buy:monthly", "flow:back"} <= set(offered)
    await chat.press("buy:small")
    url = link(chat.last)
    [session_id] = list(stripe.sessions)
    assert url.endswith(session_id)
    created = stripe.calls_to()[0]
    assert created.params["metadata"]["bot_id"] == "demo"
    assert created.params["mode"] == "payment"
    assert created.params["line_items"][0]["price_data"]["unit_amount"] == "500"
    assert "billing/done" in created.params["success_url"]
    # asking again reuses the open checkout
    again = await chat.say("/buy small")
    assert link(again) == url
    assert len(stripe.calls_to()) == 1
    assert (await balance(services, chat)) == (1, 0)

    assert await post_event(client, stripe.complete(session_id)) == 200
    pushed = await chat.pushed()
    text = "\n".join(m.text for m in pushed)
    assert "Payment received: 10 credits added" in text
    assert "Writing your ritual" in text
    assert "It's saved in your /library" in text
    assert (await balance(services, chat)) == (8, 0)
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(ContentItem)) == 1


async def test_with_stripe_configured_the_creator_is_not_warned(client: Client) -> None:
    creator = chat_with(services_of(client), sender_id="local")  # the terminal's creator
    saved = (await creator.say("/pricing pack large 30 12"))[-1].text
    assert "Pack large: 30 credits for €12.00" in saved
    assert "Stripe" not in saved


async def test_each_event_applies_once_however_often_and_concurrently_it_arrives(
    client: Client, stripe: FakeStripe
) -> None:
    services, chat, session_id = await buying(client, stripe, "small")
    event = stripe.complete(session_id)
    statuses = [await post_event(client, event) for _ in range(3)]
    statuses += await asyncio.gather(*(post_event(client, event) for _ in range(3)))
    assert statuses == [200] * 6
    assert (await balance(services, chat)) == (11, 0)
    async with services.db.read() as session:
        purchases = await session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "purchase")
        )
        events = await session.scalar(select(func.count()).select_from(StripeEvent))
    assert (purchases, events) == (1, 1)
    # a second, different event for the same checkout grants nothing more
    twin = {**event, "id": "evt_twin", "type": "checkout.session.async_payment_succeeded"}
    assert await post_event(client, twin) == 200
    assert (await balance(services, chat)) == (11, 0)


async def test_forged_stale_and_malformed_events_are_rejected_and_change_nothing(
    client: Client, stripe: FakeStripe
) -> None:
    services, chat, session_id = await buying(client, stripe, "small")
    event = stripe.complete(session_id)
    body, headers = signed(event)
    tampered = body.replace(b'"paid"', b'"PAID"', 1)
    assert (await client.post("/webhooks/stripe", data=tampered, headers=headers)).status == 400
    assert await post_event(client, event, secret="whsec_wrong") == 400
    stale = int(time.time()) - 301
    assert await post_event(client, event, timestamp=stale) == 400
    missing = await client.post("/webhooks/stripe", data=body)
    assert missing.status == 400
    assert "Stripe-Signature" in (await missing.json())["detail"]
    garbage = b"not json"
    response = await client.post(
        "/webhooks/stripe", data=garbage, headers={"Stripe-Signature": sign(garbage)}
    )
    assert response.status == 400
    huge = b'{"id": "evt_x", "pad": "' + b"x" * (600 * 1024) + b'"}'
    response = await client.post(
        "/webhooks/stripe", data=huge, headers={"Stripe-Signature": sign(huge)}
    )
    assert response.status in (400, 413)
    assert (await balance(services, chat)) == (1, 0)
    # the genuine event still applies afterwards
    assert await post_event(client, event) == 200
    assert (await balance(services, chat)) == (11, 0)


async def test_unknown_event_types_are_acknowledged(client: Client) -> None:
    event = {
        "id": "evt_unknown_1",
        "object": "event",
        "type": "customer.created",
        "created": int(time.time()),
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    body, headers = signed(event)
    response = await client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status == 200
    assert (await response.json())["outcome"] == "ignored"


async def test_a_refund_after_spending_records_a_debt_paid_by_the_next_purchase(
    client: Client, stripe: FakeStripe
) -> None:
    services = services_of(client)
    chat = chat_with(services)
    await to_paywall(chat)
    await chat.press("buy:small")
    [first] = list(stripe.sessions)
    await post_event(client, stripe.complete(first))
    await chat.pushed()
    assert (await balance(services, chat)) == (8, 0)
    refund = stripe.refund(first)
    assert await post_event(client, refund) == 200
    assert await post_event(client, refund) == 200
    assert (await balance(services, chat)) == (0, 2)
    notice = "\n".join(m.text for m in await chat.pushed())
    assert "10 credits were taken back" in notice
    assert "2 credits already spent" in notice
    await chat.say("/buy small")
    second = next(s for s in stripe.sessions if s != first)
    await post_event(client, stripe.complete(second))
    assert (await balance(services, chat)) == (8, 0)


async def test_a_refund_that_arrives_before_its_payment_is_applied_with_it(
    client: Client, stripe: FakeStripe
) -> None:
    services, chat, session_id = await buying(client, stripe, "small")
    completed = stripe.complete(session_id)
    refunded = stripe.refund(session_id)
    assert await post_event(client, refunded) == 200
    assert await post_event(client, completed) == 200
    assert (await balance(services, chat)) == (1, 0)


async def test_a_subscription_sets_the_tier_and_each_invoice_adds_the_allowance(
    client: Client, stripe: FakeStripe
) -> None:
    services, chat, session_id = await buying(client, stripe, "monthly")
    assert stripe.calls_to()[0].params["mode"] == "subscription"
    completed = stripe.complete(session_id)
    subscription = completed["data"]["object"]["subscription"]
    first_invoice = stripe.invoice_paid(subscription)
    # the invoice may come before the checkout's own event
    assert await post_event(client, first_invoice) == 200
    assert await post_event(client, completed) == 200
    assert await post_event(client, first_invoice) == 200
    assert (await balance(services, chat)) == (41, 0)
    assert await post_event(client, stripe.invoice_paid(subscription)) == 200
    assert (await balance(services, chat)) == (81, 0)
    statement = "\n".join(m.text for m in await chat.say("/credits"))
    assert "Your plan: monthly" in statement
    deleted = stripe.subscription_event(subscription, "customer.subscription.deleted")
    updated_earlier = stripe.subscription_event(
        subscription, "customer.subscription.updated", created=deleted["created"] - 10
    )
    assert await post_event(client, deleted) == 200
    assert await post_event(client, updated_earlier) == 200  # late and stale: ignored
    statement = "\n".join(m.text for m in await chat.say("/credits"))
    assert "Your plan" not in statement


async def test_the_telegram_deep_link_back_from_checkout_keeps_the_conversation(
    client: Client, stripe: FakeStripe
) -> None:
    services = services_of(client)
    chat = chat_with(services)
    await to_paywall(chat)
    await chat.press("buy:small")
    [session_id] = list(stripe.sessions)
    await chat.say(f"/start paid_{session_id}")
    assert "as soon as Stripe tells me" in chat.text
    async with services.db.read() as session:
        party = await repo.find_party(session, "demo", chat.channel.value, chat.sender_id)
    assert party is not None
    assert party.state == State.PAYWALL
    await chat.say(f"/start unpaid_{session_id}")
    assert "No payment was taken" in chat.text


async def test_a_failed_payment_is_reported_to_the_buyer(
    client: Client, stripe: FakeStripe
) -> None:
    services, chat, session_id = await buying(client, stripe, "small")
    assert await post_event(client, stripe.payment_failed(session_id)) == 200
    notice = "\n".join(m.text for m in await chat.pushed())
    assert "didn't go through" in notice
    assert "declined" in notice
    assert (await balance(services, chat)) == (1, 0)


async def test_checkout_pages_lead_back(client: Client) -> None:
    page = await client.get("/billing/done?status=paid&session_id=cs_1")
    assert page.status == 200
    assert "Thank you" in await page.text()
    page = await client.get("/billing/done?status=cancelled")
    assert "No payment was taken" in await page.text()


async def test_stripe_down_gives_a_clear_reply(client: Client, stripe: FakeStripe) -> None:
    chat = chat_with(services_of(client))
    await chat.say("hello")
    stripe.fail_next(5, status=500)
    replies = await chat.say("/buy small")
    assert "couldn't open the payment page" in replies[0].text
    assert json.dumps([b.payload for b in replies[0].buttons])
