"""Reading the bytes behind an attachment reference, whatever channel it came from.

Adapters put a reference on each attachment (``file:///…`` for the terminal; other
channels register their own schemes, e.g. a Telegram file id). Readers never follow a
reference to anything bigger than ``max_bytes``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from core.messages import Attachment, referenced_file

Reader = Callable[[str, int], Awaitable[bytes]]


class MediaReader:
    """Resolves attachment references by their scheme."""

    def __init__(self, max_bytes: int) -> None:
        self._readers: dict[str, Reader] = {}
        self._max_bytes = max_bytes

    def register(self, scheme: str, reader: Reader) -> None:
        self._readers[scheme] = reader

    async def read(self, attachment: Attachment) -> bytes:
        """The attachment's bytes; ``OSError`` if they cannot be had."""
        scheme = urlsplit(attachment.reference).scheme
        reader = self._readers.get(scheme)
        if reader is None:
            raise OSError(f"attachments of kind {scheme or 'unknown'!r} cannot be read here")
        return await reader(attachment.reference, self._max_bytes)


async def read_local_file(reference: str, max_bytes: int) -> bytes:
    """Read a ``file://`` reference (the terminal, widget voice notes, API uploads)."""
    path = referenced_file(reference)

    def read() -> bytes:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise OSError(f"{path.name} is larger than {max_bytes:,} bytes")
        return data

    return await asyncio.to_thread(read)
