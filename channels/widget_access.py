"""Who may open the widget's socket: a bot that exists, on a page of an allowed website.

A browser is not told why an upgrade was refused: to the page a refusal looks like a
network failure, worth retrying for ever. So a browser's socket is accepted and closed
at once with a code of the private range (4000-4999) that ``webwidget/PROTOCOL.md``
defines, which the widget tells apart from a lost connection; a request that is not an
upgrade gets the HTTP status instead. The code is what a program acts on; the reason is
for a person, in the language the request prefers (``Accept-Language``: no ``hello`` has
said one yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from core.i18n.translator import N_, Translator, translator
from core.text import normalise
from webwidget.embed import normalise_origin

#: a close frame's reason is at most this many bytes of UTF-8 (RFC 6455)
MAX_REASON = 123


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a socket is closed as soon as it opens: its close code and reason (in
    English, translated when said), and the HTTP status a plain request gets."""

    code: int
    reason: str
    status: type[web.HTTPException]


UNKNOWN_BOT = Refusal(4404, N_("unknown bot"), web.HTTPNotFound)
ORIGIN_NOT_ALLOWED = Refusal(4403, N_("origin not allowed"), web.HTTPForbidden)


def preferred_language(request: web.Request) -> str | None:
    """The language a request prefers most (the first of its ``Accept-Language``), if
    it names one."""
    first = request.headers.get("Accept-Language", "").split(",", 1)[0]
    return normalise(first.split(";", 1)[0].strip())


def request_wording(request: web.Request) -> Translator:
    """The translator for what is said to a request before its socket says hello."""
    return translator(preferred_language(request))


def origin_allowed(origin: str, request: web.Request, allowed: Iterable[str]) -> bool:
    """Whether a page of ``origin`` may open the socket: it is one of the ``allowed``
    origins (the public address's and the bot's list), or the origin the request itself
    reached (the demo page)."""
    own = _origin(f"{request.scheme}://{request.host}")
    return _origin(origin) in {own, *(_origin(a) for a in allowed)}


async def refuse(
    request: web.Request, ws: web.WebSocketResponse, refusal: Refusal
) -> web.StreamResponse:
    """Close ``ws`` as soon as it opens, with the refusal's code and its reason in the
    request's language (see the module)."""
    reason = request_wording(request).gettext(refusal.reason)
    if not ws.can_prepare(request).ok:
        raise refusal.status(text=reason)
    await ws.prepare(request)
    encoded = reason.encode()[:MAX_REASON].decode(errors="ignore").encode()
    await ws.close(code=refusal.code, message=encoded)
    return ws


def _origin(value: str) -> str:
    return normalise_origin(value) or value
