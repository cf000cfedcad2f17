"""Two web processes sharing a database and Redis: a widget socket held by one receives
what the other delivers, through Redis pub/sub; without Redis nothing is lost either."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.app import SERVICES
from core.messages import OutboundMessage
from core.outbox import Address
from core.runtime.fanout import RedisFanOut
from core.settings import Settings
from tests.servers import REDIS_URL
from tests.test_channels.telegram_app import Client, services_ready, start
from tests.test_channels.test_widget_protocol import connect, hello, until


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Client, Client]]:
    settings = Settings(
        data_dir=tmp_path / "data",
        speech_enabled=False,
        redis_url=REDIS_URL,
        redis_prefix=f"test-{uuid.uuid4().hex[:10]}",
    )
    first = await start(settings)
    await services_ready(first)
    second = await start(settings)
    await services_ready(second)
    for client in (first, second):
        fanout = client.app[SERVICES].fanout
        assert isinstance(fanout, RedisFanOut)
        await fanout.listening.wait()
    yield first, second
    await second.close()
    await first.close()


async def test_a_socket_on_one_process_receives_what_another_delivers(
    pair: tuple[Client, Client],
) -> None:
    first, second = pair
    ws = await connect(first)
    welcome = await hello(ws)
    visitor = welcome["visitor"]
    address = Address("demo", "widget", visitor)
    await second.app[SERVICES].outbox.send(address, [OutboundMessage(text="made on B")])
    frames = await until(ws, "reply")
    assert frames[-1]["message"]["text"] == "made on B"
    assert frames[-1]["seq"] == welcome["seq"] + 1
    # it was delivered once, not once per process
    await second.app[SERVICES].outbox.send(address, [OutboundMessage(text="and again")])
    frames = await until(ws, "reply")
    assert [f["message"]["text"] for f in frames if f["type"] == "reply"] == ["and again"]
    assert frames[-1]["seq"] == welcome["seq"] + 2
    await ws.close()


async def test_with_redis_gone_the_frames_wait_in_the_log(pair: tuple[Client, Client]) -> None:
    first, second = pair
    ws = await connect(first)
    welcome = await hello(ws)
    visitor, session = welcome["visitor"], welcome["session"]
    await ws.close()
    services = second.app[SERVICES]
    assert services.redis is not None
    await services.redis.connection_pool.disconnect()
    services.redis.connection_pool.connection_kwargs["port"] = 1  # Redis "goes away" for B
    await services.outbox.send(Address("demo", "widget", visitor), [OutboundMessage("kept")])
    again = await connect(first)  # the widget reconnects and asks for what it missed
    await again.send_json({"type": "hello", "session": session, "last_seq": welcome["seq"]})
    frames = await until(again, "reply")
    assert frames[-1]["message"]["text"] == "kept"
    await again.close()
