"""Who may open the widget's socket: a bot that exists, on a page of an allowed website.

A browser is not told why an upgrade was refused: to the page a refusal looks like a
network failure, worth retrying for ever. So a browser's socket is accepted and closed
at once with a code of the private range (4000-4999) that ``webwidget/PROTOCOL.md``
defines, which the widget tells apart from a lost connection; a request that is not an
upgrade gets the HTTP status instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from webwidget.embed import normalise_origin


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a socket is closed as soon as it opens: its close code and reason, and the
    HTTP status a plain request gets."""

    code: int
    reason: str
    status: type[web.HTTPException]


UNKNOWN_BOT = Refusal(4404, "unknown bot", web.HTTPNotFound)
ORIGIN_NOT_ALLOWED = Refusal(4403, "origin not allowed", web.HTTPForbidden)


def origin_allowed(origin: str, request: web.Request, allowed: Iterable[str]) -> bool:
    """Whether a page of ``origin`` may open the socket: it is one of the ``allowed``
    origins (the public address's and the bot's list), or the origin the request itself
    reached (the demo page)."""
    own = _origin(f"{request.scheme}://{request.host}")
    return _origin(origin) in {own, *(_origin(a) for a in allowed)}


async def refuse(
    request: web.Request, ws: web.WebSocketResponse, refusal: Refusal
) -> web.StreamResponse:
    """Close ``ws`` as soon as it opens, with the refusal's code (see the module)."""
    if not ws.can_prepare(request).ok:
        raise refusal.status(text=refusal.reason)
    await ws.prepare(request)
    await ws.close(code=refusal.code, message=refusal.reason.encode())
    return ws


def _origin(value: str) -> str:
    return normalise_origin(value) or value
