"""The fake Twilio Messaging API and webhook builders, driven by the real twilio SDK: if
the SDK accepts the fake's answers, maps its errors to ``TwilioRestException`` with
Twilio's codes, and ``RequestValidator`` accepts the signatures, the WhatsApp adapter can
be tested against them."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fakes import twilio_requests as wa
from tests.fakes.twilio_api import FakeTwilio

USER = f"whatsapp:{wa.USER_NUMBER}"
BUSINESS = f"whatsapp:{wa.BUSINESS_NUMBER}"
SID = re.compile(r"(SM|MM)[0-9a-f]{32}")
VOICE = b"OggS\x00\x02" + bytes(range(256)) * 4
TEMPLATE = "HX" + "a" * 32
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(500)


def client_for(
    fake_base_url: str,
    account_sid: str,
    auth_token: str,
    *,
    http_client: Any = None,
) -> Client:
    """A real twilio ``Client`` whose REST calls go to the fake at ``fake_base_url``:
    the ``api`` domain's base URL replaced, no edge or region (they rewrite the host),
    and ``environment={}`` so ``TWILIO_*`` variables of the process are not read."""
    client = Client(account_sid, auth_token, environment={}, http_client=http_client)
    client.api.base_url = fake_base_url.rstrip("/")
    return client


@pytest.fixture
def fake() -> FakeTwilio:
    return FakeTwilio()


@pytest.fixture
async def base_url(fake: FakeTwilio, aiohttp_server: AiohttpServer) -> str:
    server = await aiohttp_server(fake.app())
    fake.base_url = str(server.make_url("")).rstrip("/")
    return fake.base_url


@pytest.fixture
def client(base_url: str) -> Iterator[Client]:
    http_client = TwilioHttpClient()
    yield client_for(base_url, wa.ACCOUNT_SID, wa.AUTH_TOKEN, http_client=http_client)
    assert http_client.session is not None
    http_client.session.close()


@pytest.fixture
async def async_client(base_url: str) -> AsyncIterator[Client]:
    http_client = AsyncTwilioHttpClient()
    yield client_for(base_url, wa.ACCOUNT_SID, wa.AUTH_TOKEN, http_client=http_client)
    await http_client.close()


async def send(client: Client, **fields: Any) -> Any:
    """``messages.create`` off the event loop, as the adapter calls it."""
    return await asyncio.to_thread(client.messages.create, **fields)


def basic(user: str, password: str) -> dict[str, str]:
    """Basic auth as a header (``aiohttp.BasicAuth`` is deprecated in aiohttp 3.14)."""
    return {"Authorization": aiohttp.encode_basic_auth(user, password)}


# -- the REST API through the SDK ---------------------------------------------------


async def test_the_sdk_sends_a_message_and_the_fake_records_it(
    client: Client, fake: FakeTwilio
) -> None:
    sent = await send(client, to=USER, from_=BUSINESS, body="Héllo 👋 — tea?")
    [call] = await fake.wait_for(1, timeout=5)
    assert call.status == 201
    assert call.params == {"To": USER, "From": BUSINESS, "Body": "Héllo 👋 — tea?"}
    assert call.account_sid == wa.ACCOUNT_SID
    assert call.path == f"/2010-04-01/Accounts/{wa.ACCOUNT_SID}/Messages.json"
    assert SID.fullmatch(sent.sid)
    assert sent.sid.startswith("SM")
    assert (sent.status, sent.direction, sent.to, sent.from_) == (
        "queued",
        "outbound-api",
        USER,
        BUSINESS,
    )
    assert (sent.num_segments, sent.num_media, sent.body) == ("1", "0", "Héllo 👋 — tea?")
    assert sent.date_created.tzinfo is not None  # RFC 2822, parsed by the SDK
    assert sent.uri == f"/2010-04-01/Accounts/{wa.ACCOUNT_SID}/Messages/{sent.sid}.json"
    assert sent.error_code is None
    assert fake.messages[sent.sid]["status"] == "queued"


# twilio's AsyncTwilioHttpClient still passes an aiohttp.BasicAuth as ``auth=``, which
# aiohttp 3.14 deprecates: the async SDK warns on every request
@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning")
async def test_the_async_sdk_sends_media_and_a_status_callback(
    async_client: Client, fake: FakeTwilio
) -> None:
    urls = ["https://chorus.example/media/a.ogg", "https://chorus.example/media/b.pdf"]
    sent = await async_client.messages.create_async(
        to=USER,
        from_=BUSINESS,
        media_url=urls,
        status_callback="https://chorus.example/webhooks/whatsapp/demo/status",
    )
    [call] = fake.calls_for("create_message")
    assert call.values("MediaUrl") == urls
    assert call.params["StatusCallback"].endswith("/status")
    assert sent.sid.startswith("MM")
    assert sent.num_media == "2"
    assert sent.body == ""


async def test_a_template_through_a_messaging_service_is_accepted_and_rendered(
    client: Client, fake: FakeTwilio
) -> None:
    template = "HX" + "b" * 32
    fake.templates[template] = "Your {{1}} is ready, {{2}}."
    sent = await send(
        client,
        to=USER,
        messaging_service_sid=wa.MESSAGING_SERVICE_SID,
        content_sid=template,
        content_variables=json.dumps({"1": "meditation", "2": "Ada"}),
    )
    # without From, the Messaging Service picks a sender later: "accepted", from null
    assert (sent.status, sent.from_) == ("accepted", None)
    assert sent.messaging_service_sid == wa.MESSAGING_SERVICE_SID
    assert sent.body == "Your meditation is ready, Ada."
    assert fake.calls_for()[0].params["ContentVariables"] == '{"1": "meditation", "2": "Ada"}'


async def test_a_sent_message_can_be_fetched_and_advanced(client: Client, fake: FakeTwilio) -> None:
    sent = await send(client, to=USER, from_=BUSINESS, body="hi")
    assert await fake.advance(sent.sid, "delivered") is None  # no StatusCallback to post
    fetched = await asyncio.to_thread(client.messages(sent.sid).fetch)
    assert (fetched.sid, fetched.status, fetched.body) == (sent.sid, "delivered", "hi")
    assert fetched.date_sent is not None
    with pytest.raises(TwilioRestException) as raised:
        await asyncio.to_thread(client.messages("SM" + "0" * 32).fetch)
    assert (raised.value.status, raised.value.code) == (404, 20404)
    assert [c.status for c in fake.calls_for("fetch_message")] == [200, 404]


async def test_wrong_credentials_are_401_with_code_20003(base_url: str, fake: FakeTwilio) -> None:
    wrong = client_for(base_url, wa.ACCOUNT_SID, "0" * 32)
    with pytest.raises(TwilioRestException) as raised:
        await send(wrong, to=USER, from_=BUSINESS, body="hi")
    assert (raised.value.status, raised.value.code, raised.value.msg) == (
        401,
        20003,
        "Unable to create record: Authenticate",
    )
    assert fake.messages == {}
    url = f"{base_url}/2010-04-01/Accounts/{wa.ACCOUNT_SID}/Messages.json"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data={"To": USER, "Body": "x"}) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'
            assert await response.json() == {
                "code": 20003,
                "message": "Authenticate",
                "more_info": "https://www.twilio.com/docs/errors/20003",
                "status": 401,
            }
        # right credentials, another account's resources
        other = url.replace(wa.ACCOUNT_SID, "AC" + "1" * 32)
        headers = basic(wa.ACCOUNT_SID, wa.AUTH_TOKEN)
        async with session.post(other, data={"To": USER}, headers=headers) as response:
            assert response.status == 401
    assert [c.error_code for c in fake.calls] == [20003, 20003, 20003]


async def test_an_api_key_authenticates_for_its_account(base_url: str, fake: FakeTwilio) -> None:
    fake.add_api_key(wa.API_KEY_SID, wa.API_KEY_SECRET)
    http_client = TwilioHttpClient()
    client = Client(
        wa.API_KEY_SID,
        wa.API_KEY_SECRET,
        account_sid=wa.ACCOUNT_SID,
        environment={},
        http_client=http_client,
    )
    client.api.base_url = base_url
    try:
        sent = await send(client, to=USER, from_=BUSINESS, body="via key")
    finally:
        assert http_client.session is not None
        http_client.session.close()
    assert sent.account_sid == wa.ACCOUNT_SID


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"to": "", "from_": BUSINESS, "body": "hi"}, 21604),
        ({"to": USER, "body": "hi"}, 21603),
        ({"to": USER, "from_": BUSINESS}, 21619),
        ({"to": USER, "from_": BUSINESS, "body": "x" * 1601}, 21617),
        ({"to": wa.USER_NUMBER, "from_": BUSINESS, "body": "hi"}, 21910),
        ({"to": "whatsapp:0123", "from_": BUSINESS, "body": "hi"}, 21211),
        ({"to": USER, "from_": BUSINESS, "media_url": ["file:///etc/passwd"]}, 21620),
        ({"to": USER, "from_": BUSINESS, "content_sid": TEMPLATE, "content_variables": "{"}, 21656),
        ({"to": USER, "from_": BUSINESS, "content_sid": "template-1"}, 21655),
    ],
    ids=["no-to", "no-from", "nothing-to-send", "too-long", "channel-pair", "bad-to",
         "bad-media-url", "bad-variables", "bad-content-sid"],
)  # fmt: skip
async def test_refused_messages_are_400_with_twilio_codes(
    client: Client, fake: FakeTwilio, fields: dict[str, Any], code: int
) -> None:
    with pytest.raises(TwilioRestException) as raised:
        await send(client, **fields)
    assert (raised.value.status, raised.value.code) == (400, code)
    assert raised.value.msg  # Twilio's sentence, e.g. "A 'To' phone number is required."
    [call] = fake.calls_for()
    assert (call.status, call.error_code) == (400, code)
    assert call.response["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert fake.messages == {}


async def test_a_body_of_exactly_1600_characters_is_accepted(client: Client) -> None:
    sent = await send(client, to=USER, from_=BUSINESS, body="é" * 1600)
    assert sent.status == "queued"


async def test_only_registered_senders_may_send(client: Client, fake: FakeTwilio) -> None:
    fake.senders = {BUSINESS}
    await send(client, to=USER, from_=BUSINESS, body="ok")
    with pytest.raises(TwilioRestException) as raised:
        await send(client, to=USER, from_="whatsapp:+15005550006", body="no")
    assert raised.value.code == 63007


# -- fault switches -----------------------------------------------------------------


async def test_throttle_answers_429_with_retry_after_then_recovers(
    client: Client, base_url: str, fake: FakeTwilio
) -> None:
    fake.throttle(times=2, retry_after=3)
    with pytest.raises(TwilioRestException) as raised:
        await send(client, to=USER, from_=BUSINESS, body="one")
    assert (raised.value.status, raised.value.code) == (429, 20429)
    url = f"{base_url}/2010-04-01/Accounts/{wa.ACCOUNT_SID}/Messages.json"
    headers = basic(wa.ACCOUNT_SID, wa.AUTH_TOKEN)
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data={"To": USER, "From": BUSINESS, "Body": "two"}, headers=headers) as r,
    ):
        assert (r.status, r.headers["Retry-After"]) == (429, "3")
        assert (await r.json())["code"] == 20429
    sent = await send(client, to=USER, from_=BUSINESS, body="three")
    assert sent.status == "queued"
    assert [c.status for c in fake.calls_for()] == [429, 429, 201]
    assert list(fake.messages) == [sent.sid]


async def test_fail_answers_server_errors_for_the_chosen_recipient(
    client: Client, fake: FakeTwilio
) -> None:
    fake.fail(times=2, status=503, to=USER)
    other = "whatsapp:+447700900123"
    assert (await send(client, to=other, from_=BUSINESS, body="elsewhere")).status == "queued"
    for _ in range(2):
        with pytest.raises(TwilioRestException) as raised:
            await send(client, to=USER, from_=BUSINESS, body="hi")
        assert (raised.value.status, raised.value.code) == (503, 20503)
    assert (await send(client, to=USER, from_=BUSINESS, body="hi")).status == "queued"
    assert [c.status for c in fake.calls_for()] == [201, 503, 503, 201]


async def test_latency_delays_every_answer(client: Client, fake: FakeTwilio) -> None:
    fake.latency = 0.3
    started = time.monotonic()
    await send(client, to=USER, from_=BUSINESS, body="slow")
    assert time.monotonic() - started >= 0.3


async def test_wait_for_says_how_many_calls_came(fake: FakeTwilio) -> None:
    with pytest.raises(TimeoutError, match=r"0 of 2 create_message calls after 0\.05s"):
        await fake.wait_for(2, timeout=0.05)


async def test_unknown_paths_are_twilio_404s(base_url: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/2010-04-01/Nope.json") as response,
    ):
        assert response.status == 404
        assert (await response.json())["code"] == 20404


# -- media --------------------------------------------------------------------------


async def test_media_needs_credentials_and_redirects_to_a_short_lived_url(
    fake: FakeTwilio, base_url: str
) -> None:
    voice = fake.add_media(VOICE, "audio/ogg")
    assert voice.url == (
        f"{base_url}/2010-04-01/Accounts/{wa.ACCOUNT_SID}/Messages/{voice.message_sid}"
        f"/Media/{voice.sid}"
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(voice.url) as response:
            assert response.status == 401
            assert (await response.json())["code"] == 20003
        async with session.get(voice.url, headers=basic("AC" + "1" * 32, "x")) as response:
            assert response.status == 401
        auth = basic(wa.ACCOUNT_SID, wa.AUTH_TOKEN)
        async with session.get(voice.url, headers=auth, allow_redirects=False) as response:
            assert response.status == 307
            location = response.headers["Location"]
        async with session.get(voice.url, headers=auth) as response:  # follows the redirect
            assert (response.status, response.content_type) == (200, "audio/ogg")
            assert await response.read() == VOICE
        async with session.get(f"{base_url}{location}") as response:  # no credentials needed
            assert response.status == 200
        async with session.get(f"{base_url}/mms-cdn/expired") as response:
            assert response.status == 403
        async with session.get(f"{voice.url}.json", headers=auth) as response:
            resource = await response.json()
    assert resource["content_type"] == "audio/ogg"
    assert (resource["sid"], resource["parent_sid"]) == (voice.sid, voice.message_sid)
    assert fake.downloads == [voice.sid, voice.sid]
    assert [c.status for c in fake.calls_for("download_media")] == [401, 401, 307, 307]


async def test_media_without_redirect_or_auth_is_served_directly(
    fake: FakeTwilio, base_url: str
) -> None:
    fake.media_auth, fake.media_redirect = False, False
    photo = fake.add_media(JPEG, "image/jpeg")
    async with aiohttp.ClientSession() as session, session.get(photo.url) as response:
        assert (response.status, response.content_type) == (200, "image/jpeg")
        assert await response.read() == JPEG
    missing = photo.url.replace(photo.sid, "ME" + "0" * 32)
    auth = basic(wa.ACCOUNT_SID, wa.AUTH_TOKEN)
    async with aiohttp.ClientSession() as session, session.get(missing, headers=auth) as response:
        assert response.status == 404


def test_media_urls_need_the_server_address_first() -> None:
    with pytest.raises(RuntimeError, match="base_url"):
        FakeTwilio().add_media(VOICE, "audio/ogg")


# -- inbound webhooks and signatures ------------------------------------------------


def test_an_inbound_text_has_the_fields_twilio_sends() -> None:
    form = wa.text_message("Hi! ¿Qué tal? 🍵", replying_to="SM" + "c" * 32)
    sid = form["MessageSid"]
    assert SID.fullmatch(sid)
    assert sid.startswith("SM")
    assert form["SmsSid"] == form["SmsMessageSid"] == sid
    assert (form["From"], form["To"], form["WaId"]) == (USER, BUSINESS, "14155550123")
    assert (form["NumMedia"], form["NumSegments"], form["SmsStatus"]) == ("0", "1", "received")
    assert (form["ApiVersion"], form["AccountSid"]) == ("2010-04-01", wa.ACCOUNT_SID)
    assert (form["ProfileName"], form["MessageType"]) == ("Ada", "text")
    assert form["OriginalRepliedMessageSid"] == "SM" + "c" * 32
    assert form["OriginalRepliedMessageSender"] == BUSINESS
    assert all(isinstance(value, str) for value in form.values())


async def test_inbound_media_points_at_the_fake(fake: FakeTwilio, base_url: str) -> None:
    stored = fake.add_media(VOICE, "audio/ogg")
    voice = wa.voice_note(stored.url, message_sid=stored.message_sid)
    assert voice["MessageSid"] == stored.message_sid
    assert voice["MessageSid"].startswith("MM")
    assert (voice["NumMedia"], voice["MediaContentType0"], voice["MediaUrl0"]) == (
        "1",
        "audio/ogg",
        stored.url,
    )
    assert (voice["Body"], voice["MessageType"]) == ("", "audio")
    photo = wa.image_message("https://api.twilio.com/x", "look")
    assert (photo["MediaContentType0"], photo["Body"], photo["MessageType"]) == (
        "image/jpeg",
        "look",
        "image",
    )


def test_buttons_and_locations() -> None:
    button = wa.button_reply("drink:tea", "Tea 🍵", replying_to="SM" + "d" * 32)
    assert (button["ButtonPayload"], button["ButtonText"], button["Body"]) == (
        "drink:tea",
        "Tea 🍵",
        "Tea 🍵",
    )
    assert button["MessageType"] == "button"
    place = wa.location_message(48.8584, 2.2945, address="Champ de Mars", label="Eiffel Tower")
    assert (place["Latitude"], place["Longitude"], place["Body"]) == ("48.8584", "2.2945", "")
    assert (place["Address"], place["Label"], place["MessageType"]) == (
        "Champ de Mars",
        "Eiffel Tower",
        "location",
    )
    assert "Address" not in wa.location_message()


def test_status_callbacks() -> None:
    failed = wa.status_callback("SM" + "e" * 32, "failed", error_code=63016)
    assert (failed["MessageStatus"], failed["SmsStatus"], failed["ErrorCode"]) == (
        "failed",
        "failed",
        "63016",
    )
    assert failed["ErrorMessage"].startswith("Failed to send freeform message")
    assert (failed["To"], failed["From"], failed["ChannelToAddress"]) == (
        USER,
        BUSINESS,
        wa.USER_NUMBER,
    )
    read = wa.status_callback("SM" + "e" * 32, "read")
    assert "ErrorCode" not in read
    assert read["ChannelPrefix"] == "whatsapp"
    with pytest.raises(ValueError, match="seen"):
        wa.status_callback("SM" + "e" * 32, "seen")


@pytest.mark.parametrize(
    ("url", "form"),
    [
        ("https://chorus.example/webhooks/whatsapp/demo", wa.text_message("hello")),
        (
            "https://chorus.example/webhooks/whatsapp/demo?tenant=ad%C3%A9&x=1&x=2",
            wa.text_message("Größe? 日本語 🍵👍🏽", chat=wa.Chat(profile_name="Zoë 🌸")),
        ),
        ("https://chorus.example:8443/hook", wa.location_message(label="Café “Zürich”")),
        ("https://chorus.example/status", wa.status_callback("SM" + "f" * 32, "delivered")),
    ],
    ids=["plain", "query-and-unicode", "port", "status"],
)
def test_signatures_are_what_request_validator_accepts(url: str, form: dict[str, str]) -> None:
    signature = wa.sign(url, form, wa.AUTH_TOKEN)
    validator = RequestValidator(wa.AUTH_TOKEN)
    assert signature == validator.compute_signature(url, form)
    assert validator.validate(url, form, signature)
    assert not RequestValidator("0" * 32).validate(url, form, signature)
    assert not validator.validate(url, {**form, "To": form["To"] + "0"}, signature)
    assert not validator.validate(url + "&extra=1", form, signature)
    assert not validator.validate(url, {**form, "Injected": "1"}, signature)


async def test_a_signed_webhook_validates_where_it_arrives(aiohttp_server: AiohttpServer) -> None:
    """Over HTTP, as the adapter sees it: the form decoded by aiohttp, the URL rebuilt."""
    checked: list[bool] = []

    async def webhook(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        signature = request.headers["X-Twilio-Signature"]
        checked.append(RequestValidator(wa.AUTH_TOKEN).validate(str(request.url), form, signature))
        return web.Response(text="<Response/>", content_type="text/xml")

    app = web.Application()
    app.router.add_post("/webhooks/whatsapp/demo", webhook)
    server = await aiohttp_server(app)
    url = str(server.make_url("/webhooks/whatsapp/demo?lang=fr"))
    form = wa.text_message("Ça va ? 😀 & más + 100%")
    async with aiohttp.ClientSession() as session:
        headers = wa.webhook_headers(url, form, wa.AUTH_TOKEN)
        async with session.post(url, data=form, headers=headers) as response:
            assert response.status == 200
        tampered = {**form, "Body": "something else"}
        async with session.post(url, data=tampered, headers=headers) as response:
            assert response.status == 200
    assert checked == [True, False]


async def test_advance_posts_a_signed_status_callback(
    client: Client, fake: FakeTwilio, aiohttp_server: AiohttpServer
) -> None:
    received: list[tuple[dict[str, str], bool]] = []

    async def status(request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        valid = RequestValidator(wa.AUTH_TOKEN).validate(
            str(request.url), form, request.headers["X-Twilio-Signature"]
        )
        received.append((form, valid))
        return web.Response(text="<Response/>", content_type="text/xml")

    app = web.Application()
    app.router.add_post("/status", status)
    callback = str((await aiohttp_server(app)).make_url("/status"))
    sent = await send(client, to=USER, from_=BUSINESS, body="hi", status_callback=callback)
    assert await fake.advance(sent.sid, "sent") == 200
    assert await fake.advance(sent.sid, "failed", error_code=63016) == 200
    assert [(form["MessageStatus"], valid) for form, valid in received] == [
        ("sent", True),
        ("failed", True),
    ]
    failed = received[1][0]
    assert (failed["MessageSid"], failed["ErrorCode"], failed["To"]) == (sent.sid, "63016", USER)
    assert [d.status for d in fake.status_callbacks] == [200, 200]
    fetched = await asyncio.to_thread(client.messages(sent.sid).fetch)
    assert (fetched.status, fetched.error_code) == ("failed", 63016)
