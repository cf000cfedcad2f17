"""The widget socket's protocol (webwidget/PROTOCOL.md) against the real app."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType

from channels.widget_frames import reply_frame
from channels.widget_session import WidgetSessions
from core.app import SERVICES
from core.i18n.translator import translator
from core.messages import MAX_TEXT, Media, OutboundKind, OutboundMessage, too_long
from core.outbox import Address
from core.services import Services
from core.settings import Settings
from core.storage import repository as repo
from core.storage.models import EndUser
from tests.test_channels.telegram_app import Client, services_ready, start

QUESTION = "How should I breathe when I feel anxious?"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    client = await start(Settings(data_dir=tmp_path / "data", speech_enabled=False))
    await services_ready(client)
    yield client
    await client.close()


def services(client: Client) -> Services:
    return client.app[SERVICES]


async def connect(client: Client, bot: str = "demo", **headers: str) -> ClientWebSocketResponse:
    return await client.ws_connect(f"/ws/widget/{bot}", headers=headers)


async def receive(ws: ClientWebSocketResponse, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
    message = await ws.receive(timeout=timeout)
    assert message.type is WSMsgType.TEXT, message
    frame: dict[str, Any] = json.loads(message.data)
    return frame


async def until(ws: ClientWebSocketResponse, kind: str, **match: Any) -> list[dict[str, Any]]:
    """Frames up to and including the first of ``kind`` matching ``match``."""
    seen = []
    while True:
        frame = await receive(ws)
        seen.append(frame)
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return seen


async def answered(ws: ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Frames until the bot stops typing: everything a message brought."""
    return await until(ws, "typing", on=False)


async def hello(
    ws: ClientWebSocketResponse, session: str | None = None, last_seq: int = 0
) -> dict[str, Any]:
    await ws.send_json({"type": "hello", "session": session, "last_seq": last_seq})
    return (await until(ws, "welcome"))[-1]


async def test_a_question_is_acknowledged_said_streamed_and_answered_in_sequence(
    client: Client,
) -> None:
    ws = await connect(client)
    welcome = await hello(ws)
    assert welcome["bot"]["id"] == "demo"
    assert welcome["seq"] == 0
    assert welcome["session"]
    await ws.send_json({"type": "message", "id": "c-1", "text": QUESTION})
    frames = await answered(ws)
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "ack"
    said = next(f for f in frames if f["type"] == "said")
    assert said == {"type": "said", "id": "c-1", "text": QUESTION, "seq": 1}
    deltas = "".join(f["text"] for f in frames if f["type"] == "delta")
    reply = [f for f in frames if f["type"] == "reply"][-1]
    assert reply["seq"] > said["seq"]
    assert reply["message"]["sources"]
    assert "grounded" not in reply["message"]  # kept for the creator, not sent
    assert deltas
    assert deltas.strip() in reply["message"]["text"]
    assert "[1]" in deltas  # citations stream numbered as they end up
    await ws.close()


async def test_a_reconnecting_page_gets_what_it_missed_once(client: Client) -> None:
    ws = await connect(client)
    welcome = await hello(ws)
    await ws.send_json({"type": "message", "id": "c-1", "text": "hello"})
    first = await answered(ws)
    last_seen = max(f.get("seq", 0) for f in first)
    await ws.send_json({"type": "message", "id": "c-2", "text": QUESTION})
    await until(ws, "ack", id="c-2")
    await ws.close()  # gone before the answer
    assert services(client).inbox is not None
    await services(client).inbox.idle()
    again = await connect(client)
    back = await hello(again, welcome["session"], last_seen)
    assert back["visitor"] == welcome["visitor"]
    replayed = [await receive(again) for _ in range(back["seq"] - last_seen)]
    assert [f["seq"] for f in replayed] == list(range(last_seen + 1, back["seq"] + 1))
    assert replayed[0]["type"] == "said"
    assert [f.get("reply_to") for f in replayed if f["type"] == "reply"] == ["c-2"]
    # a reloaded page (last_seq 0) gets the whole conversation
    reloaded = await connect(client)
    whole = await hello(reloaded, welcome["session"], 0)
    frames = [await receive(reloaded) for _ in range(whole["seq"])]
    assert [f["seq"] for f in frames] == list(range(1, whole["seq"] + 1))
    for ws_ in (again, reloaded):
        await ws_.close()


async def test_a_resent_message_is_acknowledged_as_a_duplicate_and_answered_once(
    client: Client,
) -> None:
    ws = await connect(client)
    await hello(ws)
    frame = {"type": "message", "id": "c-9", "text": "hello"}
    await ws.send_json(frame)
    await ws.send_json(frame)
    acks = [f for f in await answered(ws) if f["type"] == "ack"]
    if len(acks) < 2:
        acks += [f for f in await until(ws, "ack", id="c-9") if f["type"] == "ack"]
    assert [a.get("duplicate", False) for a in acks] == [False, True]
    assert services(client).inbox is not None
    await services(client).inbox.idle()
    await asyncio.sleep(0.1)
    await ws.send_json({"type": "ping"})
    rest = await until(ws, "pong")
    assert not [f for f in rest if f["type"] in ("reply", "said")]
    await ws.close()


async def test_frames_before_hello_and_malformed_frames_get_errors_and_the_socket_lives(
    client: Client,
) -> None:
    ws = await connect(client)
    await ws.send_json({"type": "message", "id": "c-1", "text": "hi"})
    assert (await receive(ws))["code"] == "hello_required"
    await hello(ws)
    for bad, code in [
        (json.dumps({"type": "message", "id": "c-9", "text": "x" * 4001}), "too_long"),
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "message", "text": "no id"}', "bad_frame"),
        ('{"type": "message", "id": "c-2", "text": 5}', "bad_frame"),
        (json.dumps({"type": "message", "id": "c-3", "text": "x" * 5000}), "too_long"),
        ('{"type": "voice", "id": "c-4", "mime": "audio/webm", "data": "%%%"}', "bad_frame"),
    ]:
        await ws.send_str(bad)
        error = await receive(ws)
        assert (error["type"], error["code"]) == ("error", code), bad
        if code == "too_long" and "voice" not in bad:  # refused whole, with the one limit
            assert error["message"] == too_long(len(json.loads(bad)["text"]))
            assert "please keep it to 4,000 characters or fewer" in error["message"]
    await ws.send_bytes(b"\x00\x01")
    assert (await receive(ws))["code"] == "bad_frame"
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"
    await ws.close()


async def test_the_widget_has_the_same_text_limit_as_every_channel(client: Client) -> None:
    ws = await connect(client)
    welcome = await hello(ws)
    assert welcome["limits"]["max_text"] == MAX_TEXT == 4000
    await ws.send_json({"type": "message", "id": "c-long", "text": "ab" * 2000})
    frames = await answered(ws)
    assert frames[0] == {"type": "ack", "id": "c-long"}
    said = next(f for f in frames if f["type"] == "said")
    assert len(said["text"]) == 4000  # accepted whole, never cut
    await ws.close()


async def test_a_frame_over_the_size_limit_closes_the_socket_cleanly(client: Client) -> None:
    ws = await connect(client)
    await hello(ws)
    await ws.send_str(json.dumps({"type": "message", "id": "c", "text": "x" * 2_000_000}))
    message = await ws.receive(timeout=10)
    assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    assert ws.close_code == 1009


async def test_flooding_is_rate_limited_then_closed(client: Client) -> None:
    ws = await connect(client)
    await hello(ws)
    for _ in range(30):
        await ws.send_json({"type": "ping"})
    frames = [await receive(ws) for _ in range(30)]
    limited = [f for f in frames if f.get("code") == "rate_limited"]
    assert limited
    assert limited[0]["retry_after"] > 0
    for _ in range(80):
        await ws.send_json({"type": "ping"})
    while (await ws.receive(timeout=10)).type is WSMsgType.TEXT:
        pass
    assert ws.close_code == 1008


async def refused(ws: ClientWebSocketResponse) -> tuple[int | None, str]:
    """How a socket the server refused ends: its close code and reason, before any frame."""
    message = await ws.receive(timeout=10)
    assert message.type is WSMsgType.CLOSE, message
    return ws.close_code, message.extra


async def test_a_foreign_origin_is_refused_until_the_creator_allows_it(client: Client) -> None:
    # a browser only learns why from the close frame: a refused upgrade looks like a
    # network failure to the page, which would retry for ever
    ws = await connect(client, Origin="https://evil.example")
    assert await refused(ws) == (4403, "origin not allowed")
    plain = await client.get("/ws/widget/demo", headers={"Origin": "https://evil.example"})
    assert plain.status == 403
    await services(client).bots.change_settings("demo", allowed_origins=["https://coach.example"])
    ws = await connect(client, Origin="https://coach.example")
    await hello(ws)
    await ws.close()
    own = str(client.make_url("")).rstrip("/")
    ws = await connect(client, Origin=own)  # the demo page on the server itself
    await hello(ws)
    await ws.close()


async def test_an_unknown_bot_is_not_found(client: Client) -> None:
    ws = await connect(client, bot="nobody")
    assert await refused(ws) == (4404, "unknown bot")
    assert (await client.get("/ws/widget/nobody")).status == 404


async def test_start_greets_a_new_visitor_once_with_the_greetings_choices(client: Client) -> None:
    ws = await connect(client)
    welcome = await hello(ws)
    await ws.send_json({"type": "start"})
    (greeting,) = [f for f in await until(ws, "reply") if f["type"] == "reply"]
    assert greeting["seq"] == 1
    assert "reply_to" not in greeting
    assert greeting["message"]["text"] == welcome["bot"]["greeting"]
    labels = [b["label"] for b in greeting["message"]["buttons"]]
    assert "Guided meditation" in labels
    # another tab's start, and a reload's, add nothing: the log has begun
    other = await connect(client)
    await hello(other, welcome["session"], 0)
    assert (await receive(other))["seq"] == 1  # the greeting, replayed
    await other.send_json({"type": "start"})
    await ws.send_json({"type": "start"})
    assert services(client).inbox is not None
    await services(client).inbox.idle()
    # a choice of the greeting moves the conversation on
    payload = next(
        b["payload"] for b in greeting["message"]["buttons"] if "meditation" in b["label"]
    )
    await ws.send_json({"type": "button", "id": "c-1", "payload": payload, "label": "Guided"})
    frames = await answered(ws)
    numbered = [f for f in frames if "seq" in f]
    assert numbered[0]["type"] == "said"
    assert [f["seq"] for f in numbered] == list(range(2, 2 + len(numbered)))
    step = [f for f in frames if f["type"] == "reply"][-1]["message"]["text"]
    assert "What would you like it to help you with?" in step
    assert welcome["bot"]["greeting"] not in step  # greeted once, not again before it
    for socket in (ws, other):
        await socket.close()


async def test_start_after_the_visitor_wrote_first_adds_nothing(client: Client) -> None:
    ws = await connect(client)
    welcome = await hello(ws)
    await ws.send_json({"type": "message", "id": "c-1", "text": QUESTION})
    await answered(ws)
    await ws.send_json({"type": "start"})
    assert services(client).inbox is not None
    await services(client).inbox.idle()
    reloaded = await connect(client)
    whole = await hello(reloaded, welcome["session"], 0)
    frames = [await receive(reloaded) for _ in range(whole["seq"])]
    texts = [f["message"]["text"] for f in frames if f["type"] == "reply"]
    assert sum(text == welcome["bot"]["greeting"] for text in texts) == 1
    await ws.send_json({"type": "ping"})
    assert [f["type"] for f in await until(ws, "pong")] == ["pong"]
    for socket in (ws, reloaded):
        await socket.close()


async def test_bad_expired_and_foreign_sessions_start_a_new_visitor(client: Client) -> None:
    ws = await connect(client)
    first = await hello(ws)
    token: str = first["session"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    await ws.send_json({"type": "hello", "session": tampered, "last_seq": 0})
    frames = await until(ws, "welcome")
    assert frames[0]["code"] == "session_invalid"
    assert frames[-1]["visitor"] != first["visitor"]
    key = services(client).media.derive_key("widget sessions")
    old, _ = WidgetSessions(key, clock=lambda: 1_000_000.0).issue("demo")
    await ws.send_json({"type": "hello", "session": old, "last_seq": 0})
    assert (await until(ws, "welcome"))[0]["code"] == "session_expired"
    other, _ = WidgetSessions(key).issue("another-bot")
    await ws.send_json({"type": "hello", "session": other, "last_seq": 0})
    assert (await until(ws, "welcome"))[0]["code"] == "session_invalid"
    await ws.close()


async def test_buttons_move_the_guided_flow(client: Client) -> None:
    ws = await connect(client)
    await hello(ws)
    await ws.send_json({"type": "message", "id": "c-1", "text": "/create meditation"})
    replies = [f for f in await answered(ws) if f["type"] == "reply"]
    assert replies[-1]["message"]["buttons"]
    await ws.send_json({"type": "button", "id": "c-2", "payload": "flow:cancel", "label": "Cancel"})
    frames = await answered(ws)
    said = next(f for f in frames if f["type"] == "said")
    assert said["text"] == "Cancel"
    await ws.close()


async def test_a_voice_note_frame_is_stored_and_answered(client: Client) -> None:
    ws = await connect(client)
    await hello(ws)
    junk = base64.b64encode(b"not really audio").decode()
    await ws.send_json({"type": "voice", "id": "c-v", "mime": "audio/webm", "data": junk})
    frames = await answered(ws)
    assert frames[0] == {"type": "ack", "id": "c-v"}
    # speech is off in this server: the answer says what it can do instead of failing
    assert [f for f in frames if f["type"] == "reply"][-1]["message"]["text"]
    await ws.close()


async def test_shutdown_closes_sockets_with_going_away(tmp_path: Path) -> None:
    client = await start(Settings(data_dir=tmp_path / "data", speech_enabled=False))
    await services_ready(client)
    ws = await connect(client)
    await hello(ws)
    await client.app.shutdown()  # what the server runs on SIGTERM, before cleaning up
    message = await ws.receive(timeout=10)
    assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert ws.close_code == 1001
    await client.close()


async def test_the_welcome_carries_the_creators_theme(client: Client) -> None:
    await services(client).bots.change_settings(
        "demo", widget={"color": "#0f766e", "title": "Ask Mira", "position": "left"}
    )
    ws = await connect(client)
    bot = (await hello(ws))["bot"]
    assert (bot["color"], bot["title"], bot["position"]) == ("#0f766e", "Ask Mira", "left")
    assert bot["greeting"].startswith("Hello, I'm Mira")
    await ws.close()


async def test_pushed_progress_is_shown_live_and_never_replayed(client: Client) -> None:
    ws = await connect(client)
    welcome = await hello(ws)
    address = Address("demo", "widget", welcome["visitor"])
    working = OutboundMessage("Recording your meditation… 40%", kind=OutboundKind.PROGRESS)
    await services(client).outbox.send(address, [working, OutboundMessage("Here it is.")])
    progress = await receive(ws)
    assert progress == {"type": "progress", "reply_to": None, "text": working.text}
    (pushed,) = await until(ws, "reply")
    assert pushed["seq"] == welcome["seq"] + 1  # only the result is numbered and stored
    reloaded = await connect(client)
    whole = await hello(reloaded, welcome["session"], 0)
    assert whole["seq"] == pushed["seq"]
    for socket in (ws, reloaded):
        await socket.close()


def test_an_image_reply_frame_links_the_picture() -> None:
    chart = Media(reference="media:c.png", mime_type="image/png", filename="chart.png")
    message = OutboundMessage(text="Messages per day", kind=OutboundKind.IMAGE, image=chart)
    frame = reply_frame(message, None, lambda reference: f"/media/signed-{reference[6:]}")
    assert frame == {
        "type": "reply",
        "message": {
            "text": "Messages per day",
            "kind": "image",
            "image": {
                "url": "/media/signed-c.png",
                "mime": "image/png",
                "filename": "chart.png",
                "duration_seconds": None,
            },
        },
    }


async def test_a_new_visitor_gets_the_time_zone_their_browser_reports(client: Client) -> None:
    zones = {}
    for n, reported in enumerate(("asia/tokyo", "Mars/Olympus_Mons", None)):
        ws = await connect(client)
        await ws.send_json({"type": "hello", "last_seq": 0, "timezone": reported})
        visitor = (await until(ws, "welcome"))[-1]["visitor"]
        await ws.send_json({"type": "message", "id": f"c-{n}", "text": "hello"})
        await answered(ws)
        await ws.close()
        async with services(client).db.read() as session:
            party = await repo.find_party(session, "demo", "widget", visitor)
            assert party is not None
            user = await session.get(EndUser, party.end_user_id)
        assert user is not None
        zones[reported] = user.timezone
    # a known zone in its proper spelling; one the server doesn't know, or none, is unset
    assert zones == {"asia/tokyo": "Asia/Tokyo", "Mars/Olympus_Mons": None, None: None}


async def test_the_sockets_own_words_are_in_the_sessions_language(client: Client) -> None:
    """What the socket tells a visitor is in their language: the one their upgrade request
    prefers until ``hello`` says, then the browser's; the codes stay as they are."""
    spanish = translator("es")
    ws = await connect(client, **{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    await ws.send_json({"type": "message", "id": "c-1", "text": "hola"})
    assert await receive(ws) == {
        "type": "error",
        "code": "hello_required",
        "message": "Zuerst muss ein Hallo kommen.",
    }
    key = services(client).media.derive_key("widget sessions")
    old, _ = WidgetSessions(key, clock=lambda: 1_000_000.0).issue("demo")
    await ws.send_json({"type": "hello", "session": old, "last_seq": 0, "language": "es-MX"})
    expired = (await until(ws, "welcome"))[0]
    assert (expired["code"], expired["message"]) == ("session_expired", "Tu sesión ha caducado.")
    for bad, code, message in [
        ("not json", "bad_frame", "Un mensaje del widget es un objeto JSON con un tipo."),
        ('{"type": "dance"}', "unknown_type", "Tipo de mensaje del widget desconocido: 'dance'."),
        (
            '{"type": "message", "id": "c-2", "text": 5}',
            "bad_frame",
            "Un mensaje necesita algo de texto.",
        ),
        (
            json.dumps({"type": "message", "id": "c-3", "text": "x" * 4001}),
            "too_long",
            too_long(4001, spanish),
        ),
        (
            '{"type": "voice", "id": "c-4", "mime": "audio/webm", "data": "%%%"}',
            "bad_frame",
            "Los datos de la nota de voz no están en base64.",
        ),
    ]:  # fmt: skip
        await ws.send_str(bad)
        error = await receive(ws)
        assert (error["code"], error["message"]) == (code, message), bad
    assert too_long(4001, spanish) != too_long(4001)  # the limit's sentence, in Spanish
    junk = base64.b64encode(b"not really audio").decode()
    await ws.send_json({"type": "voice", "id": "c-v", "mime": "audio/webm", "data": junk})
    said = next(f for f in await answered(ws) if f["type"] == "said")
    assert said["text"] == "🎙 Nota de voz"
    await ws.close()


async def test_a_refusal_gives_its_reason_in_the_language_the_request_prefers(
    client: Client,
) -> None:
    ws = await connect(client, Origin="https://evil.example", **{"Accept-Language": "fr-CA,fr"})
    assert await refused(ws) == (4403, "ce site web n’est pas autorisé")
    ws = await connect(client, bot="nobody", **{"Accept-Language": "ru"})
    assert await refused(ws) == (4404, "неизвестный бот")
    plain = await client.get("/ws/widget/nobody", headers={"Accept-Language": "es"})
    assert (plain.status, await plain.text()) == (404, "bot desconocido")
    # a language without a catalogue, or none: English
    ws = await connect(client, bot="nobody", **{"Accept-Language": "xx-YY, *"})
    assert await refused(ws) == (4404, "unknown bot")
