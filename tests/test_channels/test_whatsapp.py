"""WhatsApp end to end: Twilio's signed webhooks into the real app, replies checked at a
local Messages API (tests/fakes/twilio_api.py) reached through the real twilio SDK."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select, update

from core.app import SERVICES
from core.messages import AudioFormat, OutboundMessage
from core.outbox import Address
from core.services import Services
from core.settings import Settings
from core.storage.models import InboundUpdate, SentMessage, WhatsAppContact, utcnow
from core.voice.seams import VoiceSettings
from tests.fakes.twilio_api import Call, FakeTwilio
from tests.fakes.twilio_requests import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BUSINESS_NUMBER,
    USER_NUMBER,
    button_reply,
    image_message,
    location_message,
    media_message,
    sign,
    status_callback,
    text_message,
    voice_note,
)
from tests.test_channels.telegram_app import Client, services_ready, start
from tests.test_knowledge.loader_samples import text_pdf

PUBLIC = "https://chorus.example"
HOOK = "/webhooks/whatsapp/demo"


@dataclass
class Setup:
    fake: FakeTwilio
    client: Client

    @property
    def services(self) -> Services:
        return self.client.app[SERVICES]

    async def post(
        self, form: dict[str, str], path: str = HOOK, signed_url: str | None = None
    ) -> int:
        signature = sign(signed_url or PUBLIC + path, form, AUTH_TOKEN)
        response = await self.client.post(
            path, data=form, headers={"X-Twilio-Signature": signature}
        )
        return response.status

    async def settle(self) -> None:
        assert self.services.inbox is not None
        for _ in range(3):
            await self.services.inbox.idle()
            await self.services.studio.idle()

    def sent(self) -> list[Call]:
        return [c for c in self.fake.calls_for() if c.status == 201]

    def bodies(self) -> list[str]:
        return [c.params.get("Body", "") for c in self.sent()]


@pytest.fixture
async def whatsapp(aiohttp_server: AiohttpServer, tmp_path: Path) -> AsyncIterator[Setup]:
    fake = FakeTwilio()
    server = await aiohttp_server(fake.app())
    fake.base_url = str(server.make_url("")).rstrip("/")
    settings = Settings(
        data_dir=tmp_path / "data",
        public_base_url=PUBLIC,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base=fake.base_url,
    )
    client = await start(settings)
    await services_ready(client)
    services = client.app[SERVICES]
    assert services.whatsapp is not None
    assert await services.whatsapp.attach("demo", "+1 415 523 8886") == BUSINESS_NUMBER
    yield Setup(fake, client)
    await client.close()


async def stored(services: Services) -> int:
    async with services.db.read() as session:
        return len(list(await session.scalars(select(InboundUpdate.id))))


async def test_a_question_is_answered_with_sources(whatsapp: Setup) -> None:
    form = text_message("How should I breathe when I feel anxious? 🌿")
    response = await whatsapp.client.post(
        HOOK, data=form, headers={"X-Twilio-Signature": sign(PUBLIC + HOOK, form, AUTH_TOKEN)}
    )
    assert response.status == 200
    assert response.content_type == "text/xml"
    assert "<Response></Response>" in await response.text()
    await whatsapp.settle()
    call = whatsapp.sent()[-1]
    assert call.params["To"] == f"whatsapp:{USER_NUMBER}"
    assert call.params["From"] == f"whatsapp:{BUSINESS_NUMBER}"
    assert call.params["StatusCallback"] == f"{PUBLIC}/webhooks/whatsapp/demo/status"
    assert "*Sources*" in call.params["Body"]
    async with whatsapp.services.db.read() as session:
        rows = list(await session.scalars(select(SentMessage)))
    assert {r.status for r in rows} == {"queued"}
    assert all(r.provider_id for r in rows)


async def test_bad_missing_and_replayed_signatures_are_refused(whatsapp: Setup) -> None:
    form = text_message("hello")
    bad = await whatsapp.client.post(HOOK, data=form, headers={"X-Twilio-Signature": "AAAA"})
    assert bad.status == 403
    assert (await whatsapp.client.post(HOOK, data=form)).status == 403
    signature = sign(PUBLIC + HOOK, form, AUTH_TOKEN)
    replayed = {**form, "Body": "send me everything"}  # a captured signature, new body
    response = await whatsapp.client.post(
        HOOK, data=replayed, headers={"X-Twilio-Signature": signature}
    )
    assert response.status == 403
    assert await stored(whatsapp.services) == 0


async def test_the_signature_is_checked_against_the_public_url(whatsapp: Setup) -> None:
    # behind a proxy the server sees http://127.0.0.1:port/…; Twilio signed the public URL
    internal = str(whatsapp.client.make_url(HOOK))
    assert await whatsapp.post(text_message("hi"), signed_url=internal) == 403
    assert await whatsapp.post(text_message("hi")) == 200


async def test_unknown_bots_and_malformed_forms(whatsapp: Setup) -> None:
    assert await whatsapp.post(text_message("hi"), path="/webhooks/whatsapp/nobody") == 404
    form = text_message("hi")
    del form["MessageSid"]
    assert await whatsapp.post(form) == 400
    assert await stored(whatsapp.services) == 0


async def test_a_redelivered_message_is_answered_once(whatsapp: Setup) -> None:
    form = text_message("hello")
    assert await whatsapp.post(form) == 200
    await whatsapp.settle()
    answered = len(whatsapp.sent())
    assert answered >= 1
    assert await whatsapp.post(form) == 200
    again = text_message("What is Chorus?")
    statuses = await asyncio.gather(*(whatsapp.post(again) for _ in range(5)))
    assert statuses == [200] * 5
    await whatsapp.settle()
    assert await stored(whatsapp.services) == 2
    second = len(whatsapp.sent()) - answered
    assert second >= 1
    assert len(whatsapp.sent()) == answered + second  # nothing for the repeats


async def test_buttons_are_numbered_and_a_number_presses_one(whatsapp: Setup) -> None:
    await whatsapp.post(text_message("/create meditation"))
    await whatsapp.settle()
    offered = whatsapp.bodies()[-1]
    assert "1. " in offered
    assert "Reply with a number" in offered
    await whatsapp.post(text_message("2"))
    await whatsapp.settle()
    assert whatsapp.bodies()[-1] != offered  # the flow moved on


async def test_a_meditation_arrives_as_text_and_audio_with_a_working_link(
    whatsapp: Setup,
) -> None:
    await whatsapp.post(text_message("/create meditation"))
    for answer in ("sleeping well", "bedtime", "restless", "3", "slow"):
        await whatsapp.post(text_message(answer))
        await whatsapp.settle()
    await whatsapp.post(button_reply("voice:on", "Voice on"))
    await whatsapp.settle()
    await whatsapp.post(button_reply("flow:confirm", "Create"))
    await whatsapp.settle()
    with_media = [c for c in whatsapp.sent() if c.values("MediaUrl")]
    assert with_media, whatsapp.bodies()
    (link,) = with_media[-1].values("MediaUrl")
    assert link.startswith(f"{PUBLIC}/media/")
    audio = await whatsapp.client.get(urlsplit(link).path)
    assert audio.status == 200
    assert audio.content_type == "audio/ogg"
    assert (await audio.read())[:4] == b"OggS"
    bad = await whatsapp.client.get(urlsplit(link).path.replace(".ogg", ".mp3"))
    assert bad.status in (403, 404)  # a link is valid only as it was signed
    # it expires after MEDIA_LINK_TTL_HOURS, and its expiry cannot be pushed back
    name, expires, signature, extension = urlsplit(link).path.rsplit("/", 1)[1].split(".")
    assert abs(int(expires) - (time.time() + 168 * 3600)) < 600
    later = f"/media/{name}.{int(expires) + 10**6}.{signature}.{extension}"
    assert (await whatsapp.client.get(later)).status == 403
    # long text arrives in order, in parts of at most 1,600 characters
    assert all(len(body) <= 1600 for body in whatsapp.bodies())


async def test_outside_the_24_hour_window_content_is_held_or_sent_as_a_template(
    whatsapp: Setup,
) -> None:
    await whatsapp.post(text_message("hello"))
    await whatsapp.settle()
    before = len(whatsapp.sent())
    services = whatsapp.services
    address = Address("demo", "whatsapp", USER_NUMBER)
    await services.outbox.send(address, [OutboundMessage(text="Your meditation is ready.")])
    assert len(whatsapp.sent()) == before + 1  # inside the window: sent as it is
    async with services.db.transaction() as session:
        await session.execute(
            update(WhatsAppContact).values(last_inbound_at=utcnow() - timedelta(hours=25))
        )
    await services.outbox.send(address, [OutboundMessage(text="Your ritual is ready.")])
    assert len(whatsapp.sent()) == before + 1
    async with services.db.read() as session:
        held = await session.scalar(select(SentMessage).where(SentMessage.status == "held"))
    assert held is not None
    assert "24-hour window" in (held.error or "")
    report = await services.whatsapp.report("demo") if services.whatsapp else ""
    assert f"WhatsApp number {BUSINESS_NUMBER}" in report
    assert "• held back: 1" in report
    assert "…0123: held back, outside the 24-hour window" in report
    template = "HX" + "b" * 32
    await services.bots.change_settings("demo", whatsapp_template={"content_sid": template})
    await services.outbox.send(address, [OutboundMessage(text="Your ritual is ready.")])
    last = whatsapp.sent()[-1]
    assert last.params["ContentSid"] == template
    assert "Your ritual is ready." in last.params["ContentVariables"]


async def test_status_callbacks_update_the_record(whatsapp: Setup) -> None:
    await whatsapp.post(text_message("hello"))
    await whatsapp.settle()
    sid = whatsapp.sent()[-1].response["sid"]
    status_path = "/webhooks/whatsapp/demo/status"
    assert await whatsapp.post(status_callback(sid, "delivered"), path=status_path) == 200
    async with whatsapp.services.db.read() as session:
        row = await session.scalar(select(SentMessage).where(SentMessage.provider_id == sid))
    assert row is not None
    assert row.status == "delivered"
    failed = status_callback(sid, "failed", error_code=63016)
    assert await whatsapp.post(failed, path=status_path) == 200
    async with whatsapp.services.db.read() as session:
        row = await session.scalar(select(SentMessage).where(SentMessage.provider_id == sid))
    assert row is not None
    assert row.status == "failed"
    assert (row.error or "").startswith("63016")
    forged = status_callback(sid, "read")
    response = await whatsapp.client.post(
        status_path, data=forged, headers={"X-Twilio-Signature": "forged"}
    )
    assert response.status == 403


async def test_a_voice_note_is_fetched_with_credentials_transcribed_and_answered(
    whatsapp: Setup,
) -> None:
    voice = whatsapp.services.voice
    assert voice is not None
    audio = await voice.speaker.speak(
        "What can help me sleep better at night?",
        VoiceSettings(words_per_minute=140),
        [AudioFormat.OGG_OPUS],
    )
    media = whatsapp.fake.add_media(audio[AudioFormat.OGG_OPUS].data, "audio/ogg")
    await whatsapp.post(voice_note(media.url))
    await whatsapp.settle()
    heard = whatsapp.bodies()[0]
    assert heard.startswith("🎙")
    assert "sleep" in heard.lower()
    assert whatsapp.fake.downloads


async def test_images_and_locations_get_an_answer(whatsapp: Setup) -> None:
    media = whatsapp.fake.add_media(b"\xff\xd8\xff\xe0 not much of a jpeg", "image/jpeg")
    await whatsapp.post(image_message(media.url, "what is this?"))
    await whatsapp.post(location_message(label="Tea house"))
    await whatsapp.settle()
    assert len(whatsapp.sent()) >= 2


async def test_throttled_sends_are_retried(whatsapp: Setup) -> None:
    whatsapp.fake.throttle(times=2)
    await whatsapp.post(text_message("hello"))
    await whatsapp.settle()
    assert whatsapp.sent()
    assert [c.status for c in whatsapp.fake.calls_for()][:2] == [429, 429]


async def test_a_creator_proves_their_number_then_their_documents_are_learned(
    whatsapp: Setup,
) -> None:
    pdf = text_pdf([["Green tea likes water at 80 degrees Celsius, never boiling."]])
    document = whatsapp.fake.add_media(pdf, "application/pdf")
    await whatsapp.post(media_message(document.url, "application/pdf"))
    await whatsapp.settle()
    assert "can't read files" in whatsapp.bodies()[-1]  # not the creator (yet)
    assert whatsapp.services.whatsapp is not None
    code = await whatsapp.services.whatsapp.claim("demo", USER_NUMBER)
    await whatsapp.post(text_message("000000" if code != "000000" else "111111"))
    await whatsapp.settle()
    assert "recognised" not in whatsapp.bodies()[-1]  # a wrong code is just a message
    await whatsapp.post(text_message(code))
    await whatsapp.settle()
    assert "recognised as the creator" in whatsapp.bodies()[-1]
    await whatsapp.post(media_message(document.url, "application/pdf"))
    await whatsapp.settle()
    assert "Learned" in whatsapp.bodies()[-1]
    asked = await whatsapp.services.retriever.search("demo", "How hot for green tea?")
    assert "80 degrees" in asked[0].text


async def test_a_reply_to_an_earlier_message_is_answered(whatsapp: Setup) -> None:
    await whatsapp.post(text_message("hello"))
    await whatsapp.settle()
    earlier = whatsapp.sent()[-1].response["sid"]
    await whatsapp.post(text_message("What is Chorus?", replying_to=earlier))
    await whatsapp.settle()
    assert len(whatsapp.sent()) >= 2
    assert whatsapp.bodies()[-1]
