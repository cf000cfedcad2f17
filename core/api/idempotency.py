"""``Idempotency-Key`` on creating requests: the same key with the same request answers
what the first did, without doing it again.

The key is claimed (a row inserted) before the work runs, so two concurrent requests
with one key cannot both run it: the second gets 409 while the first is running, and
the first's answer afterwards. The same key with a different request is refused (422).
A request that fails with a problem releases its key, so it can be tried again.
Answers are kept for a day.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from core.api.spec import ApiError, Call, Endpoint
from core.storage.database import Database
from core.storage.models import IdempotencyRecord, utcnow

KEEP = timedelta(days=1)
MAX_KEY = 200


class Idempotency:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def once(
        self, call: Call, endpoint: Endpoint, run: Callable[[], Awaitable[web.Response]]
    ) -> web.Response:
        key = call.request.headers["Idempotency-Key"].strip()
        if not key or len(key) > MAX_KEY:
            raise ApiError(400, "Bad Request", f"an Idempotency-Key has 1 to {MAX_KEY} characters")
        if not key.isprintable():  # a control character, or bytes that were not UTF-8
            raise ApiError(400, "Bad Request", "an Idempotency-Key is printable text")
        fingerprint = hashlib.sha256(
            f"{endpoint.method} {call.request.path}\n".encode()
            + (call.body.model_dump_json().encode() if call.body is not None else b"")
        ).hexdigest()
        try:
            async with self._db.transaction() as session:
                await session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.creator_id == call.creator_id,
                        IdempotencyRecord.key == key,
                        IdempotencyRecord.created_at < utcnow() - KEEP,
                    )
                )
                session.add(
                    IdempotencyRecord(creator_id=call.creator_id, key=key, request_hash=fingerprint)
                )
        except IntegrityError:
            return await self._replay(call.creator_id, key, fingerprint)
        try:
            response = await run()
        except BaseException:
            await self._release(call.creator_id, key)
            raise
        if response.status >= 400:
            await self._release(call.creator_id, key)
            return response
        async with self._db.transaction() as session:
            await session.execute(
                update(IdempotencyRecord)
                .where(
                    IdempotencyRecord.creator_id == call.creator_id, IdempotencyRecord.key == key
                )
                .values(status=response.status, body=response.text)
            )
        return response

    async def _replay(self, creator_id: int, key: str, fingerprint: str) -> web.Response:
        async with self._db.read() as session:
            record = await session.get(IdempotencyRecord, (creator_id, key))
        if record is None:  # released meanwhile: the client may try again
            raise ApiError(409, "Conflict", "a request with this Idempotency-Key just failed")
        if record.request_hash != fingerprint:
            raise ApiError(
                422, "Unprocessable Content", "this Idempotency-Key was used for another request"
            )
        if record.status is None:
            raise ApiError(
                409,
                "Conflict",
                "a request with this Idempotency-Key is still running",
                {"Retry-After": "1"},
            )
        return web.Response(
            text=record.body or "",
            status=record.status,
            content_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )

    async def _release(self, creator_id: int, key: str) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.creator_id == creator_id, IdempotencyRecord.key == key
                )
            )
