"""Signed visitor sessions for the web widget.

A visitor has no account: the widget keeps a token the server signed, naming the bot and
a random visitor id, in ``localStorage``. The token is ``base64url(payload)`` and
``base64url(HMAC-SHA256)`` joined by a dot; it is checked in constant time, bound to its
bot, and expires after ``ttl_seconds`` (90 days by default).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable

TTL_SECONDS = 90 * 24 * 3600
MAX_TOKEN = 512


class SessionRejected(Exception):
    """A token that does not verify (``session_invalid``) or is too old (``session_expired``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class WidgetSessions:
    """Issues and checks visitor tokens with one key."""

    def __init__(
        self,
        key: bytes,
        *,
        ttl_seconds: float = TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._ttl = ttl_seconds
        self._clock = clock

    def issue(self, bot_id: str) -> tuple[str, str]:
        """A new visitor of ``bot_id``: (token, visitor id)."""
        visitor = "v_" + secrets.token_hex(12)
        payload = {"v": 1, "b": bot_id, "u": visitor, "iat": int(self._clock())}
        body = _encode(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}", visitor

    def verify(self, token: str, bot_id: str) -> str:
        """The visitor id of a valid token for ``bot_id``; raises :class:`SessionRejected`."""
        body, _, signature = token.partition(".")
        if len(token) > MAX_TOKEN or not hmac.compare_digest(signature, self._sign(body)):
            raise SessionRejected("session_invalid")
        try:
            payload = json.loads(_decode(body))
        except (ValueError, binascii.Error):
            raise SessionRejected("session_invalid") from None
        if not isinstance(payload, dict) or payload.get("b") != bot_id:
            raise SessionRejected("session_invalid")
        issued, visitor = payload.get("iat"), payload.get("u")
        if not isinstance(issued, int) or not isinstance(visitor, str):
            raise SessionRejected("session_invalid")
        if self._clock() - issued > self._ttl:
            raise SessionRejected("session_expired")
        return visitor

    def _sign(self, body: str) -> str:
        return _encode(hmac.new(self._key, body.encode(), hashlib.sha256).digest())


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
