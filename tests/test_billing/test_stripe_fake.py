"""The fake Stripe API and webhook builders, driven by the real stripe SDK: if the SDK
accepts the fake's Checkout Sessions, maps its errors to its own exceptions, and
``stripe.Webhook.construct_event`` accepts the signed events, billing can be tested
against them."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import aiohttp
import pytest
import stripe
from stripe.params.checkout import SessionCreateParams

from tests.fakes.stripe_api import FakeStripe
from tests.fakes.stripe_wire import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    Price,
    decode_form,
    period_end,
    sign,
    signed,
)

SUCCESS = "https://chorus.example/billing/done?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://chorus.example/billing/cancelled"
Client = stripe.StripeClient


def credits(amount: int = 500, quantity: int = 1, **price: Any) -> dict[str, Any]:
    """A line item of Chorus credits, priced inline."""
    data = {"currency": "eur", "unit_amount": amount, "product_data": {"name": "100 credits"}}
    return {"price_data": data | price, "quantity": quantity}


def payment(**params: Any) -> dict[str, Any]:
    """A one-off purchase of credits, as billing asks for it."""
    return {
        "mode": "payment",
        "success_url": SUCCESS,
        "cancel_url": CANCEL,
        "line_items": [credits()],
        "client_reference_id": "user-42",
        "metadata": {"bot_id": "demo", "end_user_id": "42"},
        "payment_intent_data": {"metadata": {"bot_id": "demo", "pack": "small"}},
    } | params


def subscription(**params: Any) -> dict[str, Any]:
    """A monthly plan."""
    plan = credits(900, recurring={"interval": "month"})
    plan["price_data"]["product_data"] = {"name": "Chorus Pro"}
    return {
        "mode": "subscription",
        "success_url": SUCCESS,
        "line_items": [plan],
        "metadata": {"bot_id": "demo"},
        "subscription_data": {"metadata": {"bot_id": "demo", "plan": "pro"}},
    } | params


@asynccontextmanager
async def client_for(
    fake: FakeStripe, api_key: str = SECRET_KEY, *, retries: int = 0, seconds: float = 10
) -> AsyncIterator[Client]:
    """A real ``StripeClient`` on aiohttp whose API calls go to the fake."""
    http_client = stripe.AIOHTTPClient(timeout=seconds)
    try:
        yield Client(
            api_key,
            base_addresses={"api": fake.url},
            http_client=http_client,
            max_network_retries=retries,
        )
    finally:
        await http_client.close_async()  # type: ignore[no-untyped-call]


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as fake:
        yield fake


@pytest.fixture
async def client(fake: FakeStripe) -> AsyncIterator[Client]:
    async with client_for(fake) as client:
        yield client


async def create(client: Client, params: dict[str, Any], key: str | None = None) -> Any:
    """``sessions.create_async``; ``params`` is a plain dict, as some tests send what the
    SDK's types forbid."""
    options: stripe.RequestOptions = {"idempotency_key": key} if key else {}
    sessions = client.v1.checkout.sessions
    return await sessions.create_async(cast(SessionCreateParams, params), options)


# -- the API through the SDK ----------------------------------------------------------


async def test_a_payment_session_is_created_and_retrieved(client: Client, fake: FakeStripe) -> None:
    session = await create(client, payment(line_items=[credits(500, 2), credits(250)]))
    assert session.id.startswith("cs_test_")
    assert session.url == f"https://checkout.stripe.test/c/pay/{session.id}"
    assert (session.object, session.mode, session.status, session.payment_status) == (
        "checkout.session",
        "payment",
        "open",
        "unpaid",
    )
    assert (session.amount_total, session.amount_subtotal, session.currency) == (1250, 1250, "eur")
    assert session.metadata.to_dict() == {"bot_id": "demo", "end_user_id": "42"}
    assert session.client_reference_id == "user-42"
    assert (session.success_url, session.cancel_url) == (SUCCESS, CANCEL)
    assert session.customer is session.payment_intent is session.subscription is None
    assert session.expires_at == session.created + 24 * 3600
    assert session.livemode is False
    assert "line_items" not in session  # not expanded

    again = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert again.to_dict() == session.to_dict()
    [post] = fake.calls_to("POST")
    assert post.params["line_items"][0] == {
        "price_data": {
            "currency": "eur",
            "unit_amount": "500",
            "product_data": {"name": "100 credits"},
        },
        "quantity": "2",
    }
    assert post.params["payment_intent_data"] == {"metadata": {"bot_id": "demo", "pack": "small"}}
    assert post.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert post.idempotency_key  # the SDK gives every POST one
    assert [c.status for c in fake.requests] == [200, 200]


async def test_a_subscription_session_is_created_and_retrieved(
    client: Client, fake: FakeStripe
) -> None:
    session = await create(client, subscription())
    assert (session.mode, session.amount_total, session.customer_email) == (
        "subscription",
        900,
        None,
    )
    fetched = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert fetched.to_dict()["metadata"] == {"bot_id": "demo"}
    assert fake.sessions[session.id].subscription_metadata == {"bot_id": "demo", "plan": "pro"}


async def test_a_known_price_may_be_named_by_id(client: Client, fake: FakeStripe) -> None:
    price = fake.add_price(1500, "usd", name="Studio", interval="year")
    session = await create(client, subscription(line_items=[{"price": price.id, "quantity": 2}]))
    assert (session.amount_total, session.currency) == (3000, "usd")


async def test_completion_shows_when_the_session_is_retrieved(
    client: Client, fake: FakeStripe
) -> None:
    session = await create(client, payment(customer_email="ana@example.com"))
    fake.complete(session.id)
    done = (await client.v1.checkout.sessions.retrieve_async(session.id)).to_dict()
    assert (done["status"], done["payment_status"], done["url"]) == ("complete", "paid", None)
    assert done["payment_intent"].startswith("pi_")
    assert done["customer"].startswith("cus_")
    assert done["customer_details"]["email"] == "ana@example.com"


async def test_the_same_idempotency_key_replays_the_first_answer(
    client: Client, fake: FakeStripe
) -> None:
    first = await create(client, payment(), key="checkout-user-42-1")
    again = await create(client, payment(), key="checkout-user-42-1")
    assert again.id == first.id
    assert len(fake.sessions) == 1
    assert [c.replayed for c in fake.requests] == [False, True]
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError) as raised:
        await create(client, payment(client_reference_id="user-43"), key="checkout-user-42-1")
    assert raised.value.http_status == 400
    assert "checkout-user-42-1" in raised.value.user_message
    assert len(fake.sessions) == 1
    # keys belong to an API key: another account may use the same one
    fake.secret_key = "sk_test_other"
    async with client_for(fake, "sk_test_other") as other:
        assert (await create(other, payment(), key="checkout-user-42-1")).id != first.id


async def test_a_wrong_api_key_is_an_authentication_error(fake: FakeStripe) -> None:
    async with client_for(fake, "sk_test_wrong_key_1234") as wrong:
        with pytest.raises(stripe.AuthenticationError) as raised:
            await create(wrong, payment())
    assert raised.value.http_status == 401
    assert raised.value.user_message == "Invalid API Key provided: sk_test_**********1234"
    assert fake.sessions == {}
    async with aiohttp.ClientSession() as http, http.get(f"{fake.url}/v1/checkout/sessions/x") as r:
        assert r.status == 401
        assert (await r.json())["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        (payment(success_url=None), "success_url"),
        (payment(mode="donation"), "mode"),
        (payment(line_items=None), "line_items"),
        (payment(line_items=[credits(-1)]), "line_items[0][price_data][unit_amount]"),
        (payment(line_items=[credits(quantity=0)]), "line_items[0][quantity]"),
        (payment(line_items=[credits(product_data={})]),
         "line_items[0][price_data][product_data][name]"),
        (payment(line_items=[{"price": "price_missing", "quantity": 1}]), "line_items[0][price]"),
        (payment(line_items=[credits(recurring={"interval": "month"})]), "line_items"),
        (subscription(line_items=[credits()]), "line_items"),
        (payment(colour="blue"), "colour"),
    ],
    ids=["no-success-url", "bad-mode", "no-line-items", "negative-amount", "no-quantity",
         "no-product-name", "unknown-price", "recurring-in-payment", "one-time-subscription",
         "unknown-param"],
)  # fmt: skip
async def test_refused_sessions_are_invalid_request_errors(
    client: Client, fake: FakeStripe, params: dict[str, Any], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await create(client, params)
    assert (raised.value.http_status, raised.value.param) == (400, param)
    assert raised.value.user_message
    assert fake.sessions == {}
    assert fake.requests[0].response["error"]["type"] == "invalid_request_error"


async def test_an_unknown_session_is_resource_missing(client: Client) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.checkout.sessions.retrieve_async("cs_test_nope")
    assert (raised.value.http_status, raised.value.code, raised.value.param) == (
        404,
        "resource_missing",
        "id",
    )


async def test_a_refused_request_is_not_stored_for_idempotency(
    client: Client, fake: FakeStripe
) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        await create(client, payment(success_url=None), key="k-1")
    assert (await create(client, payment(), key="k-1")).id in fake.sessions


async def test_injected_failures_and_the_sdk_retrying_them(fake: FakeStripe) -> None:
    fake.fail_next(1, status=500)
    async with client_for(fake) as no_retries, client_for(fake, retries=1) as retrying:
        with pytest.raises(stripe.APIError) as raised:
            await create(no_retries, payment(), key="k-1")
        assert raised.value.http_status == 500
        fake.fail_next(1, status=503)
        session = await create(retrying, payment(), key="k-2")  # the retry goes through
    assert [(c.status, c.idempotency_key) for c in fake.requests] == [
        (500, "k-1"),
        (503, "k-2"),
        (200, "k-2"),
    ]
    assert list(fake.sessions) == [session.id]


async def test_a_hung_request_times_out_on_the_client(fake: FakeStripe) -> None:
    fake.hang_next()
    async with client_for(fake, seconds=0.2) as client:
        with pytest.raises(stripe.APIConnectionError):
            await create(client, payment())
        assert (await create(client, payment())).status == "open"  # only the next one


# -- webhook events -------------------------------------------------------------------


def verify(body: bytes, header: str, secret: str = WEBHOOK_SECRET) -> stripe.Event:
    """What the webhook endpoint does first: check the signature, parse the Event."""
    event: stripe.Event = stripe.Webhook.construct_event(body, header, secret, tolerance=300)
    return event


async def test_a_signed_event_verifies_and_a_tampered_one_does_not(
    client: Client, fake: FakeStripe
) -> None:
    session = await create(client, payment())
    body, headers = signed(fake.complete(session.id))
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    event = verify(body, headers["Stripe-Signature"])
    assert (event.type, event.data.object.id) == ("checkout.session.completed", session.id)
    assert event.data.object.metadata.to_dict() == {"bot_id": "demo", "end_user_id": "42"}

    header = headers["Stripe-Signature"]
    tampered = body.replace(b'"paid"', b'"unpaid"')
    assert tampered != body
    stale = int(time.time()) - 301
    for bad_body, bad_header, secret in [
        (tampered, header, WEBHOOK_SECRET),
        (body, header, "whsec_other"),
        (body, sign(body, timestamp=stale), WEBHOOK_SECRET),
        (body, "t=1,v0=abc", WEBHOOK_SECRET),
    ]:
        with pytest.raises(stripe.SignatureVerificationError):
            verify(bad_body, bad_header, secret)
    assert verify(body, sign(body, timestamp=int(time.time()) - 290)).id == json.loads(body)["id"]


async def test_payment_events_link_up(client: Client, fake: FakeStripe) -> None:
    session = await create(client, payment(line_items=[credits(500, 2)]))
    failed = fake.payment_failed(session.id)
    completed = fake.complete(session.id)
    partial = fake.refund(session.id, 300)
    rest = fake.refund(session.id)
    events = [failed, completed, partial, rest]
    assert len({e["id"] for e in events}) == 4
    assert all(e["object"] == "event" and e["livemode"] is False for e in events)
    assert {e["api_version"] for e in events} == {"2020-08-27"}

    intent = failed["data"]["object"]
    assert failed["type"] == "payment_intent.payment_failed"
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["message"] == "Your card was declined."
    assert intent["metadata"] == {"bot_id": "demo", "pack": "small"}
    pi = completed["data"]["object"]["payment_intent"]
    assert intent["id"] == pi  # the same PaymentIntent is then paid

    charge = partial["data"]["object"]
    assert partial["type"] == "charge.refunded"
    assert (charge["payment_intent"], charge["amount"], charge["currency"]) == (pi, 1000, "eur")
    assert (charge["amount_refunded"], charge["refunded"]) == (300, False)
    assert charge["metadata"] == {"bot_id": "demo", "pack": "small"}
    assert charge["customer"] == completed["data"]["object"]["customer"]
    last = rest["data"]["object"]
    assert (last["id"], last["amount_refunded"], last["refunded"]) == (charge["id"], 1000, True)
    assert [r["amount"] for r in last["refunds"]["data"]] == [700, 300]
    assert rest["data"]["previous_attributes"]["amount_refunded"] == 300
    with pytest.raises(ValueError, match="refunded already"):
        fake.refund(session.id, 1)
    for event in events:  # the SDK reads each as an Event
        body, headers = signed(event)
        assert verify(body, headers["Stripe-Signature"]).data.object.id


async def test_subscription_events_link_up(client: Client, fake: FakeStripe) -> None:
    session = await create(client, subscription(customer_email="ana@example.com"))
    completed = fake.complete(session.id)["data"]["object"]
    sub_id, customer = completed["subscription"], completed["customer"]
    assert sub_id.startswith("sub_")
    assert completed["invoice"].startswith("in_")
    assert completed["payment_intent"] is None

    created = fake.subscription_event(sub_id, "customer.subscription.created")
    first = fake.invoice_paid(sub_id)
    renewal = fake.invoice_paid(sub_id)
    cancelled = fake.subscription_event(sub_id, "deleted")
    events = [created, first, renewal, cancelled]
    assert len({e["id"] for e in events}) == 4

    sub = created["data"]["object"]
    assert (sub["id"], sub["customer"], sub["status"]) == (sub_id, customer, "active")
    assert sub["metadata"] == {"bot_id": "demo", "plan": "pro"}
    price = sub["items"]["data"][0]["price"]
    assert (price["unit_amount"], price["currency"], price["recurring"]["interval"]) == (
        900,
        "eur",
        "month",
    )

    invoice = first["data"]["object"]
    assert (invoice["id"], invoice["billing_reason"]) == (
        completed["invoice"],
        "subscription_create",
    )
    assert (invoice["subscription"], invoice["customer"], invoice["amount_paid"]) == (
        sub_id,
        customer,
        900,
    )
    assert invoice["parent"]["subscription_details"] == {
        "metadata": {"bot_id": "demo", "plan": "pro"},
        "subscription": sub_id,
    }
    period = invoice["lines"]["data"][0]["period"]
    assert period == {"start": sub["current_period_start"], "end": sub["current_period_end"]}

    again = renewal["data"]["object"]
    assert again["billing_reason"] == "subscription_cycle"
    assert again["id"] != invoice["id"]
    assert again["lines"]["data"][0]["period"]["start"] == period["end"]

    ended = cancelled["data"]["object"]
    assert (cancelled["type"], ended["status"]) == ("customer.subscription.deleted", "canceled")
    assert ended["latest_invoice"] == again["id"]
    assert ended["current_period_start"] == period["end"]


async def test_an_update_carries_the_previous_status(client: Client, fake: FakeStripe) -> None:
    session = await create(client, subscription())
    sub_id = fake.complete(session.id)["data"]["object"]["subscription"]
    event = fake.subscription_event(sub_id, "updated", "past_due", created=1_700_000_000)
    assert (event["type"], event["created"]) == ("customer.subscription.updated", 1_700_000_000)
    assert event["data"]["object"]["status"] == "past_due"
    assert event["data"]["previous_attributes"] == {"status": "active"}
    paid = fake.invoice_paid(sub_id, period_start=1_767_225_600)  # 2026-01-01
    assert paid["data"]["object"]["lines"]["data"][0]["period"] == {
        "start": 1_767_225_600,
        "end": 1_769_904_000,  # 2026-02-01
    }


# -- pure parts -----------------------------------------------------------------------


def test_bracket_notation_decodes_to_nested_hashes_and_lists() -> None:
    pairs = [
        ("mode", "payment"),
        ("metadata[bot_id]", "demo"),
        ("metadata[0]", "kept as a key"),
        ("line_items[0][price_data][currency]", "eur"),
        ("line_items[0][quantity]", "1"),
        ("line_items[1][price]", "price_1"),
        ("expand[0]", "line_items"),
    ]
    assert decode_form(pairs) == {
        "mode": "payment",
        "metadata": {"bot_id": "demo", "0": "kept as a key"},
        "line_items": [
            {"price_data": {"currency": "eur"}, "quantity": "1"},
            {"price": "price_1"},
        ],
        "expand": ["line_items"],
    }
    with pytest.raises(ValueError, match="both"):
        decode_form([("a", "1"), ("a[b]", "2")])


@pytest.mark.parametrize(
    ("start", "interval", "count", "end"),
    [
        ("2026-01-31", "month", 1, "2026-02-28"),
        ("2026-11-15", "month", 3, "2027-02-15"),
        ("2028-02-29", "year", 1, "2029-02-28"),
        ("2026-03-01", "week", 2, "2026-03-15"),
    ],
)
def test_billing_periods_follow_the_calendar(
    start: str, interval: str, count: int, end: str
) -> None:
    def ts(day: str) -> int:
        return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())

    price = Price("price_x", "prod_x", "x", "eur", 100, interval, count)
    assert period_end(ts(start), price) == ts(end)
