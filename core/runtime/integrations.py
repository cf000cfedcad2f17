"""Outgoing webhooks: creators' own systems hear what happens with their bots.

A creator registers a URL for some events (a conversation started, content generated, a
payment completed, a handoff requested). When one happens, a delivery per subscribed
endpoint is stored in the same transaction as the change it reports (a transactional
outbox: no event is lost to a crash, none is sent for a change that was rolled back).
Each web process looks for due deliveries every ``WEBHOOK_POLL_SECONDS`` and POSTs them,
claiming each first so that one process sends it. A delivery that fails (no answer, or
anything but 2xx) is tried again later, with backoff, up to :data:`BACKOFF`'s length;
then it is marked failed. Every attempt's outcome is kept and shown to the creator.

Each request carries ``Chorus-Signature: t=TIMESTAMP,v1=HEX``, the HMAC-SHA256 of
``TIMESTAMP.BODY`` with the endpoint's secret, as Stripe signs its own: the receiver
recomputes it, compares in constant time and refuses old timestamps (replays).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import StorageUnavailable
from core.storage.database import Database
from core.storage.models import Bot, WebhookDelivery, WebhookEndpoint, utcnow
from knowledge.errors import FetchFailed
from knowledge.netguard import public_session

log = logging.getLogger("chorus.integrations")

EVENTS = (
    "conversation.started",
    "content.generated",
    "payment.completed",
    "handoff.requested",
)
SIGNATURE_HEADER = "Chorus-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
#: how long after each failed attempt the next one is made; then it has failed
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
)
TIMEOUT = 10.0  # seconds a receiver has to answer
#: how long a claimed delivery is left alone by other processes while it is sent
CLAIM = timedelta(seconds=60)
MAX_ENDPOINTS = 20


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Chorus-Signature`` header for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds: what
    a receiver does (and what the tests do)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = sign(secret, timestamp, body).rsplit("v1=", 1)[1]
    fresh = abs(now - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(24)


async def record(session: AsyncSession, bot_id: str, event: str, data: dict[str, Any]) -> int:
    """Store ``event`` of ``bot_id`` for every endpoint of its creator that wants it, in
    the caller's transaction; the number of deliveries stored."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    endpoints = list(
        await session.scalars(
            select(WebhookEndpoint)
            .join(Bot, Bot.creator_id == WebhookEndpoint.creator_id)
            .where(Bot.id == bot_id, WebhookEndpoint.active.is_(True))
        )
    )
    wanted = [e for e in endpoints if event in e.events and e.bot_id in (None, bot_id)]
    if not wanted:
        return 0
    now = utcnow()
    event_id = "evt_" + uuid.uuid4().hex
    payload = json.dumps(
        {
            "id": event_id,
            "type": event,
            "created_at": now.isoformat(),
            "bot_id": bot_id,
            "data": data,
        },
        separators=(",", ":"),
    )
    session.add_all(
        WebhookDelivery(
            id="dlv_" + uuid.uuid4().hex,
            endpoint_id=endpoint.id,
            event_id=event_id,
            event=event,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for endpoint in wanted
    )
    return len(wanted)


class Dispatcher:
    """Sends due deliveries, with retries, from any number of processes."""

    def __init__(
        self,
        db: Database,
        *,
        allow_private_urls: bool = False,
        clock: Callable[[], datetime] = utcnow,
        concurrency: int = 8,
    ) -> None:
        self._db = db
        self._allow_private = allow_private_urls
        self._clock = clock
        self._limit = asyncio.Semaphore(concurrency)
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def run(self, every: float, after: Awaitable[object] | None = None) -> None:
        """Deliver what is due every ``every`` seconds (once ``after`` is done: the
        database is ready), until cancelled; waiting longer while the database is away."""
        if after is not None:
            await after
        pause = every
        while True:
            try:
                await self.deliver_due()
                pause = every
            except StorageUnavailable as exc:
                log.warning("webhooks wait for the database: %s", exc.reason)
                pause = min(pause * 2, 30.0)
            except Exception:  # never let one bad round stop every later one
                log.exception("delivering webhooks failed")
                pause = min(pause * 2, 30.0)
            await asyncio.sleep(pause)

    async def deliver_due(self, limit: int = 100) -> int:
        """Send the deliveries that are due now; how many this process claimed."""
        now = self._clock()
        async with self._db.read() as session:
            due = list(
                await session.scalars(
                    select(WebhookDelivery.id)
                    .where(
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(limit)
                )
            )
        claimed = [d for d in due if await self._claim(d, now)]
        await asyncio.gather(*(self._attempt(d) for d in claimed))
        return len(claimed)

    async def _claim(self, delivery_id: str, now: datetime) -> bool:
        """Take a due delivery for this process (another process that also saw it due
        finds it taken)."""
        async with self._db.transaction() as session:
            result = await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + CLAIM)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _attempt(self, delivery_id: str) -> None:
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(WebhookDelivery, WebhookEndpoint)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(WebhookDelivery.id == delivery_id)
                )
            ).first()
        if row is None:
            return
        delivery, endpoint = row
        body = delivery.payload.encode()
        now = self._clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Chorus-Webhooks/1",
            "Chorus-Event": delivery.event,
            "Chorus-Delivery": delivery.id,
            SIGNATURE_HEADER: sign(endpoint.secret, int(now.timestamp()), body),
        }
        code: int | None = None
        try:
            async with self._limit:
                http = self._session()
                async with http.post(
                    endpoint.url,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=TIMEOUT),
                    allow_redirects=False,
                ) as response:
                    code = response.status
                    error = None if 200 <= code < 300 else f"answered {code}"
        except FetchFailed as exc:  # a private address, refused before connecting
            error = str(exc)[:500]
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        await self._settle(delivery, code, error)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession() if self._allow_private else public_session()
        return self._http

    async def _settle(self, delivery: WebhookDelivery, code: int | None, error: str | None) -> None:
        attempts = delivery.attempts + 1
        now = self._clock()
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status": code,
            "last_error": error,
            "last_attempt_at": now,
        }
        if error is None:
            values.update(status="delivered", delivered_at=now)
        elif attempts > len(BACKOFF):
            values["status"] = "failed"
            log.warning("webhook delivery %s failed %d times: %s", delivery.id, attempts, error)
        else:
            values["next_attempt_at"] = now + BACKOFF[attempts - 1]
        async with self._db.transaction() as session:
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values)
            )
