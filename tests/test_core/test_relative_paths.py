"""Chorus run the way a newcomer runs it: from some directory, with the default DATA_DIR
(``./data``, relative). Every path is made absolute once, in Settings, so a document
uploaded through the REST API is learned and a widget voice note is answered; and an
update whose processing keeps failing ends in one apology to its sender, counted in
``chorus_errors_total`` and logged with its request id."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import FormData
from pytest_aiohttp import AiohttpServer
from sqlalchemy import select

from core.app import SERVICES
from core.messages import AudioFormat
from core.runtime.inbox import APOLOGY
from core.settings import Settings
from core.storage import repository as repo
from core.storage.models import InboundUpdate
from core.voice.seams import VoiceSettings
from core.voice.speech import EspeakSpeaker
from tests.api import bearer, register
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import USER_ID, command_update
from tests.records import recorded
from tests.servers import free_port
from tests.test_channels.telegram_app import (
    SECRET_HEADER,
    post_update,
    services_ready,
    settings_for,
    start,
)

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "7000000002:AAF-test-token-for-relative-paths_0123456"
TEA = b"""# Oolong tea

Oolong is a traditional semi-oxidised Chinese tea. Brew oolong at 90 degrees for three
minutes; the same leaves can be steeped five or six times.
"""
QUESTION = "What can help me sleep better at night?"


def test_settings_make_every_path_absolute_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATA_DIR", raising=False)
    here = tmp_path.resolve()
    settings = Settings()
    assert settings.data_dir == here / "data"
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{here}/data/chorus.db"
    assert Settings(data_dir=Path("elsewhere/../state")).data_dir == here / "state"
    assert Settings(data_dir=Path("~/chorus")).data_dir == Path.home().resolve() / "chorus"
    explicit = Settings(database_url="sqlite:///db/chorus.db?timeout=5")
    assert explicit.database_url == f"sqlite:///{here}/db/chorus.db?timeout=5"
    for kept in ("sqlite:////srv/chorus.db", "sqlite://", "postgresql://u@db/chorus"):
        assert Settings(database_url=kept).database_url == kept
    assert Settings(local_llm="models/tiny.gguf").local_llm == str(here / "models/tiny.gguf")
    assert Settings(local_llm="smollm2").local_llm == "smollm2"  # a bundled model's name
    monkeypatch.setenv("DATA_DIR", "data")
    monkeypatch.chdir(tmp_path / "..")  # later changes of directory change nothing
    assert Settings().data_dir == tmp_path.parent.resolve() / "data"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    """``chorus serve`` started in ``tmp_path`` with no DATA_DIR (or DATABASE_URL) set."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "DATABASE_URL")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    port = free_port()
    with (tmp_path / "serve.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "core", "serve", "--host", "127.0.0.1", "--port", str(port),
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
        try:
            for _ in range(1200):
                if process.returncode is not None:
                    break
                try:
                    if (await http.get("/ready")).status == 200:
                        break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail("chorus serve never became ready")
            assert process.returncode is None, (tmp_path / "serve.log").read_text()[-3000:]
            yield http
        finally:
            if process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.wait(), timeout=60)


async def until_typing_stops(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await ws.receive_json(timeout=120)
        frames.append(frame)
        if frame == {"type": "typing", "on": False}:
            return frames


async def test_a_server_started_with_the_defaults_learns_uploads_and_hears_voice_notes(
    server: aiohttp.ClientSession, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    tokens = await register(server)  # type: ignore[arg-type]
    headers = bearer(tokens["access_token"])
    created = await server.post("/api/v1/bots", json={"name": "Tea Guide"}, headers=headers)
    bot = (await created.json())["id"]
    form = FormData()
    form.add_field("file", io.BytesIO(TEA), filename="oolong.md", content_type="text/markdown")
    upload = await server.post(f"/api/v1/bots/{bot}/documents", data=form, headers=headers)
    assert upload.status == 202, await upload.text()
    job = (await upload.json())["id"]
    for _ in range(600):
        answer = await server.get(f"/api/v1/bots/{bot}/document-jobs/{job}", headers=headers)
        state = await answer.json()
        if state["status"] in ("done", "failed"):
            break
        await asyncio.sleep(0.1)
    assert state["status"] == "done", state
    listed = await (await server.get(f"/api/v1/bots/{bot}/documents", headers=headers)).json()
    assert [d["id"] for d in listed] == [state["document_id"]]
    assert (data / "chorus.db").is_file()  # everything under ./data of where it started
    assert list((data / "uploads").iterdir()) == []

    spoken = await EspeakSpeaker().speak(
        QUESTION, VoiceSettings(words_per_minute=140), [AudioFormat.OGG_OPUS]
    )
    note = base64.b64encode(spoken[AudioFormat.OGG_OPUS].data).decode()
    async with server.ws_connect("/ws/widget/demo") as ws:
        await ws.send_json({"type": "hello"})
        while (await ws.receive_json(timeout=30))["type"] != "welcome":
            pass
        await ws.send_json({"type": "voice", "id": "v-1", "mime": "audio/ogg", "data": note})
        frames = await until_typing_stops(ws)
    replies = [f["message"]["text"] for f in frames if f["type"] == "reply"]
    assert any("sleep" in text.lower() for text in replies), frames
    assert len(replies) > 1, frames  # what was heard, then the answer to it
    assert APOLOGY not in replies
    assert len(list((data / "widget-voice").iterdir())) == 1
    metrics = await (await server.get("/metrics")).text()
    assert 'stage="inbox"' not in metrics  # no update failed


async def test_a_recording_cut_to_nothing_ends_in_one_apology_counted_and_logged(
    aiohttp_server: AiohttpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path.resolve() / "data"  # noqa: ASYNC240 - a test's set-up
    fake = FakeTelegram()
    fake.add_bot(TOKEN, username="relative_bot")
    settings = await settings_for(fake, aiohttp_server, Path("data"), telegram_chat_interval=0)
    assert settings.data_dir == data
    client = await start(settings)
    try:
        await services_ready(client)
        services = client.app[SERVICES]
        await services.telegram.attach("demo", TOKEN)
        secret = fake.bots[TOKEN].webhook.secret_token
        assert secret
        assert await post_update(client, "demo", command_update("start"), secret) == 200
        await services.inbox.idle()
        # a recording in the user's library, whose file was then cut to nothing
        assert services.voice is not None
        recording = await services.voice.record(
            "Breathe in slowly. Breathe out.", VoiceSettings(), title="Evening calm"
        )
        async with services.db.transaction() as session:
            party = await repo.find_party(session, "demo", "telegram", str(USER_ID))
            assert party is not None
            await repo.add_content(
                session,
                bot_id="demo",
                end_user_id=party.end_user_id,
                content_type="meditation",
                title="Evening calm",
                parameters={},
                text="Breathe in slowly. Breathe out.",
                audio=recording.record,
            )
        stored = services.media.path(recording.media.reference)
        assert stored is not None
        assert stored.is_relative_to(data / "media")
        stored.write_bytes(b"")

        with recorded("chorus.inbox") as records:
            response = await client.post(
                "/webhooks/telegram/demo",
                json=command_update("library", "1"),
                headers={SECRET_HEADER: secret, "X-Request-Id": "trace-library-1"},
            )
            assert response.status == 200
            await services.inbox.idle()  # Telegram refuses the empty voice note every time

        texts = [str(c.params.get("text", "")) for c in fake.calls_for("sendMessage")]
        assert texts.count(APOLOGY) == 1  # once, however many attempts failed
        metrics = await (await client.get("/metrics")).text()
        assert 'chorus_errors_total{error="TelegramBadRequest",stage="inbox"} 1.0' in metrics
        async with services.db.read() as session:
            statuses = (await session.scalars(select(InboundUpdate.status))).all()
        assert sorted(statuses) == ["done", "failed"]
        (gave_up,) = [r for r in records.records if r.levelno >= logging.ERROR]
        assert "its sender was told" in gave_up.getMessage()
        assert gave_up.request_id == "trace-library-1"  # type: ignore[attr-defined]
    finally:
        await client.close()
