"""Hostile input, generated: whatever arrives at a webhook or a widget socket, the server
answers without a 500, nothing it refused for a bad signature is stored, and processing
never crashes. A Telegram update with the right secret is always answered 200.

Hypothesis draws the bodies: arbitrary JSON, Telegram-shaped updates with wrong types in
every field, Twilio forms with arbitrary fields (correctly signed, so they get past the
signature), Stripe events of every shape (correctly signed), widget frames of any kind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.app import SERVICES
from core.services import Services
from core.settings import Settings
from core.storage.models import InboundUpdate, StripeEvent
from tests.fakes.stripe_wire import WEBHOOK_SECRET, sign
from tests.fakes.twilio_requests import AUTH_TOKEN
from tests.fakes.twilio_requests import sign as twilio_sign
from tests.test_channels.telegram_app import SECRET_HEADER, Client, services_ready, start
from tests.test_channels.test_telegram import Setup as TelegramSetup
from tests.test_channels.test_telegram import telegram  # noqa: F401 - a fixture
from tests.test_channels.test_whatsapp import HOOK, PUBLIC, whatsapp  # noqa: F401 - fixtures
from tests.test_channels.test_whatsapp import Setup as WhatsAppSetup
from tests.test_channels.test_widget_protocol import client as widget_client  # noqa: F401
from tests.test_channels.test_widget_protocol import connect, hello, receive

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=15,
)
chat = st.fixed_dictionaries(
    {"id": st.integers(-(2**40), 2**40) | json_values},
    optional={"type": st.sampled_from(["private", "group", "channel"]) | json_values},
)
message = st.fixed_dictionaries(
    {
        "message_id": st.integers(0, 2**31) | json_values,
        "date": st.integers(0, 2**32),
        "chat": chat,
    },
    optional={
        "from": st.fixed_dictionaries(
            {
                "id": st.integers(1, 2**40),
                "is_bot": st.booleans(),
                "first_name": st.text(max_size=20),
            }
        ),
        "text": st.text(max_size=300) | json_values,
        "entities": json_values,
        "caption": st.text(max_size=50),
        "voice": json_values,
        "document": json_values,
        "photo": json_values,
    },
)
updates = (
    st.fixed_dictionaries(
        {"update_id": st.integers(-(2**31), 2**31) | json_values},
        optional={
            "message": message | json_values,
            "edited_message": message,
            "callback_query": st.fixed_dictionaries(
                {"id": st.text(max_size=10), "data": st.text(max_size=80) | json_values},
                optional={"message": message, "from": json_values},
            ),
            "my_chat_member": json_values,
        },
    )
    | json_values
)
twilio_fields = st.dictionaries(
    st.sampled_from(
        [
            "From",
            "To",
            "Body",
            "MessageSid",
            "NumMedia",
            "MediaUrl0",
            "MediaContentType0",
            "ProfileName",
            "WaId",
            "ButtonPayload",
            "Latitude",
            "AccountSid",
            "SmsStatus",
        ]
    )
    # (field names without control characters: aiohttp's client refuses to send those)
    | st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12),
    st.text(max_size=80),
    max_size=8,
)
stripe_events = (
    st.fixed_dictionaries(
        {
            "id": st.text(max_size=30) | json_values,
            "type": st.sampled_from(
                [
                    "checkout.session.completed",
                    "invoice.paid",
                    "charge.refunded",
                    "customer.subscription.updated",
                    "customer.subscription.deleted",
                    "payment_intent.payment_failed",
                    "something.else",
                ]
            )
            | json_values,
            "data": st.fixed_dictionaries(
                {"object": st.dictionaries(st.text(max_size=20), json_values, max_size=6)}
            )
            | json_values,
        },
        optional={"created": st.integers(0, 2**33) | json_values},
    )
    | json_values
)
frames = (
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["hello", "message", "button", "voice", "ping", "typing", "x"])
            | json_values
        },
        optional={
            "id": st.text(max_size=80) | json_values,
            "text": st.text(max_size=200) | json_values,
            "payload": st.text(max_size=80) | json_values,
            "session": st.text(max_size=80) | json_values,
            "last_seq": st.integers() | json_values,
            "mime": st.text(max_size=30),
            "data": st.text(max_size=100) | json_values,
        },
    )
    | json_values
)


@pytest.fixture
def crashes(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Errors Chorus logged while the test ran (a crash in background processing)."""
    caplog.set_level(logging.ERROR, logger="chorus")
    return caplog.records


def chorus_errors(records: list[logging.LogRecord]) -> list[str]:
    return [
        r.getMessage()
        for r in records
        if r.name.startswith("chorus") and r.levelno >= logging.ERROR
    ]


async def count(services: Services, model: Any) -> int:
    async with services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@FUZZ
@given(update=updates)
async def test_telegram_updates_of_any_shape(
    telegram: TelegramSetup,  # noqa: F811
    crashes: list[logging.LogRecord],
    update: Any,
) -> None:
    body = json.dumps(update).encode()
    good = await telegram.client.post(
        "/webhooks/telegram/demo", data=body, headers={SECRET_HEADER: telegram.secret}
    )
    assert good.status == 200  # signed: processed, or kept as refused; never sent again
    before = await count(telegram.services, InboundUpdate)
    forged = await telegram.client.post(
        "/webhooks/telegram/demo", data=body, headers={SECRET_HEADER: "wrong"}
    )
    assert forged.status in (401, 403)
    assert await count(telegram.services, InboundUpdate) == before
    await telegram.settle()
    assert chorus_errors(crashes) == []


@FUZZ
@given(form=twilio_fields)
async def test_whatsapp_forms_of_any_shape(
    whatsapp: WhatsAppSetup,  # noqa: F811
    crashes: list[logging.LogRecord],
    form: dict[str, str],
) -> None:
    signature = twilio_sign(PUBLIC + HOOK, form, AUTH_TOKEN)
    good = await whatsapp.client.post(HOOK, data=form, headers={"X-Twilio-Signature": signature})
    assert good.status < 500
    services = whatsapp.client.app[SERVICES]
    before = await count(services, InboundUpdate)
    forged = await whatsapp.client.post(HOOK, data=form, headers={"X-Twilio-Signature": "AAAA"})
    assert forged.status == 403
    assert await count(services, InboundUpdate) == before
    await services.inbox.idle()
    assert chorus_errors(crashes) == []


@pytest.fixture
async def stripe_app(tmp_path: Path) -> AsyncIterator[Client]:
    client = await start(
        Settings(
            data_dir=tmp_path / "data", speech_enabled=False, stripe_webhook_secret=WEBHOOK_SECRET
        )
    )
    await services_ready(client)
    yield client
    await client.close()


@FUZZ
@given(event=stripe_events, raw=st.binary(max_size=200))
async def test_stripe_events_of_any_shape(
    stripe_app: Client, crashes: list[logging.LogRecord], event: Any, raw: bytes
) -> None:
    body = json.dumps(event).encode()
    signed = await stripe_app.post(
        "/webhooks/stripe", data=body, headers={"Stripe-Signature": sign(body)}
    )
    assert signed.status in (200, 400)
    services = stripe_app.app[SERVICES]
    before = await count(services, StripeEvent)
    for forged in (body, raw):
        refused = await stripe_app.post(
            "/webhooks/stripe", data=forged, headers={"Stripe-Signature": sign(forged, "whsec_x")}
        )
        assert refused.status == 400
    assert await count(services, StripeEvent) == before
    assert chorus_errors(crashes) == []


@FUZZ
@given(sent=st.lists(frames | st.text(max_size=100), min_size=1, max_size=5))
async def test_widget_frames_of_any_shape(
    widget_client: Client,  # noqa: F811
    crashes: list[logging.LogRecord],
    sent: list[Any],
) -> None:
    ws = await connect(widget_client)
    await hello(ws)
    for frame in sent:
        await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))
    await ws.send_json({"type": "ping"})
    while (await receive(ws, timeout=20))["type"] != "pong":
        pass  # the socket still answers after whatever came before
    await ws.close()
    await widget_client.app[SERVICES].inbox.idle()
    assert chorus_errors(crashes) == []
