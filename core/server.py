"""``chorus serve``: the web application on a socket, until SIGTERM or Ctrl-C.

The server says it is serving only once its socket listens, and prints the address of
the demo page once it is ready (``/ready`` answers 200: the schema is up to date and
what loads slowly has loaded). On SIGTERM or SIGINT it stops taking connections, closes
the widgets' sockets and its services, and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web
from yarl import URL

from core.app import STARTUP, create_app
from core.settings import Settings

log = logging.getLogger("chorus.server")

SHUTDOWN_SECONDS = 10.0
#: what a server listening on every address is reached at from this machine
EVERY_ADDRESS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, not a binding


async def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the application on ``host``:``port`` until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("serving on %s", site.name)
        announcing = asyncio.create_task(_announce(app, demo_address(host, port)))
        try:
            await stop.wait()
        finally:
            announcing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await announcing
    finally:
        await runner.cleanup()


async def _announce(app: web.Application, address: str) -> None:
    await app[STARTUP].ready.wait()
    print(f"Chorus is ready: talk to the demo bot at {address}", flush=True)


def demo_address(host: str, port: int) -> str:
    """The demo page's address for a browser on this machine (``localhost`` when the
    server listens on every address)."""
    reachable = "localhost" if host in EVERY_ADDRESS else host
    return str(URL.build(scheme="http", host=reachable, port=port, path="/"))
