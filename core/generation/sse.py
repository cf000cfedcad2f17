"""Server-sent events (``text/event-stream``) read line by line, as the HTML standard
says: fields ``data``, ``event`` and ``id``; a blank line ends an event; a line starting
with ``:`` is a comment (OpenRouter sends them as keep-alives); ``data`` lines of one
event are joined with newlines. Lines may end with ``\\n``, ``\\r\\n`` or ``\\r``.

Small enough to write here rather than add a package: the chat client needs only the
parsing, over the byte stream aiohttp already gives it.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncGenerator, AsyncIterable, Iterator
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One event: its type (``message`` unless the server named another) and its data."""

    data: str
    event: str = "message"
    id: str | None = None


class EventDecoder:
    """Turns chunks of an event stream into :class:`ServerEvent`s; ``feed``, then ``close``."""

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""  # a line not yet ended
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> Iterator[ServerEvent]:
        """The events that ``chunk`` completes."""
        text = self._pending + self._text.decode(chunk)
        # a trailing "\r" may be the first half of "\r\n": held until the next chunk
        held = "\r" if text.endswith("\r") else ""
        lines = _LINE_END.split(text.removesuffix(held))
        self._pending = lines.pop() + held
        for line in lines:
            event = self._line(line)
            if event is not None:
                yield event

    def close(self) -> ServerEvent | None:
        """An event the stream ended in the middle of (the standard drops it), or None.

        Returned rather than dropped so the caller can tell a truncated stream from a
        finished one; it is only data the server did not terminate with a blank line.
        """
        rest = (self._pending + self._text.decode(b"", final=True)).strip("\r\n")
        self._pending = ""
        if rest:
            self._line(rest)
        return self._dispatch()

    def _line(self, line: str) -> ServerEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> ServerEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = ServerEvent("\n".join(self._data), self._event or "message", self._id)
        self._data, self._event = [], ""
        return event


async def read_events(chunks: AsyncIterable[bytes]) -> AsyncGenerator[ServerEvent, None]:
    """Every event of a byte stream, the last one even when its blank line never came."""
    decoder = EventDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    last = decoder.close()
    if last is not None:
        yield last
