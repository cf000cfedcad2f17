"""A TCP proxy in front of a real server that a test can cut, as a restart or a network
failure would: every open connection is dropped and new ones are refused until the
server is "back". Used in front of PostgreSQL, whose clients then see exactly what a
restart shows them."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target``; :meth:`cut` and :meth:`restore`."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.Task[None]] = set()
        self.up = True
        self.port = 0
        self.refused = 0  # connections turned away while cut

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def cut(self) -> None:
        """Drop every connection now, and refuse new ones until :meth:`restore`."""
        self.up = False
        for link in list(self._links):
            link.cancel()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        await asyncio.gather(*self._links, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            self.refused += 1
            writer.transport.abort()
            return
        link = asyncio.current_task()
        assert link is not None
        self._links.add(link)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            self._links.discard(link)
            return
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        except asyncio.CancelledError:
            pass
        finally:
            self._links.discard(link)
            writer.transport.abort()  # a reset, as when the server process is gone
            upstream_writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
