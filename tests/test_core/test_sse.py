"""Server-sent events read as the HTML standard says, however the bytes are split."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.generation.sse import EventDecoder, ServerEvent, read_events

STREAM = (
    b": OPENROUTER PROCESSING\r\n\r\n"
    + b'data: {"a": 1}\r\n\r\n'
    + b"event: error\ndata: first line\ndata: second line\nid: 7\n\n"
    + b"data:no space\rdata:  two spaces\r\r"
    + "data: é ✓\n\n".encode()
    + b"retry: 3000\nunknown: field\n\n"
    + b"data: [DONE]\n\n"
)
EVENTS = [
    ServerEvent('{"a": 1}'),
    ServerEvent("first line\nsecond line", "error", "7"),
    # the last event id stays until another is given
    ServerEvent("no space\n two spaces", id="7"),
    ServerEvent("é ✓", id="7"),
    ServerEvent("[DONE]", id="7"),
]


def _decode(pieces: list[bytes]) -> list[ServerEvent]:
    decoder = EventDecoder()
    events = [event for piece in pieces for event in decoder.feed(piece)]
    last = decoder.close()
    return events + ([last] if last is not None else [])


def test_whole_stream() -> None:
    assert _decode([STREAM]) == EVENTS


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_any_split_of_the_bytes_gives_the_same_events(size: int) -> None:
    # one byte at a time splits "\r\n" pairs and the UTF-8 of "é" and "✓"
    pieces = [STREAM[i : i + size] for i in range(0, len(STREAM), size)]
    assert _decode(pieces) == EVENTS


def test_an_event_cut_off_at_the_end_is_still_given() -> None:
    assert _decode([b'data: {"a": 1}\n\ndata: {"b"']) == [
        ServerEvent('{"a": 1}'),
        ServerEvent('{"b"'),
    ]
    assert _decode([b"data: x\n\n: only a comment"]) == [ServerEvent("x")]


async def test_read_events_reads_an_async_byte_stream() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(STREAM), 10):
            yield STREAM[i : i + 10]

    assert [event async for event in read_events(chunks())] == EVENTS
