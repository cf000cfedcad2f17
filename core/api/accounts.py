"""Creators' accounts: passwords, access and refresh tokens, API keys.

- Passwords are hashed with argon2id (argon2-cffi), in a worker thread so a login does
  not stall the event loop; an unknown email costs a hash too, so timing tells nothing.
- Access tokens are JWTs (PyJWT, HS256, ``JWT_SECRET``) that live 15 minutes. Refresh
  tokens are JWTs that live 7 days, each stored by its id: using one spends it and issues
  the next of its family, and presenting a spent one again revokes the whole family,
  since only a thief would (reuse detection). Logging out revokes the family.
- API keys read ``chorus_ID_SECRET``; only a SHA-256 of the secret is stored, with the
  scopes the key grants. Keys are revocable and never manage the account itself.
- Logins are limited per email and per address (token buckets, in Redis when shared).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.api.spec import ApiError
from core.runtime.ratelimit import Buckets, Limit
from core.storage.database import Database
from core.storage.models import ApiKey, Creator, CreatorLogin, RefreshToken, as_utc, utcnow

ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=7)
ACCOUNT = "account"  # managing keys and the account: access tokens only
SCOPES = (
    "bots:read",
    "bots:write",
    "knowledge:read",
    "knowledge:write",
    "conversations:read",
    "credits:read",
    "credits:write",
    "analytics:read",
    "webhooks",
    "broadcasts",
)
KEY_PREFIX = "chorus_"
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
LOGIN_PER_EMAIL = Limit(per_minute=5, burst=5)
LOGIN_PER_ADDRESS = Limit(per_minute=30, burst=30)
# requests of one creator's, whatever their credentials
REQUESTS = Limit(per_minute=600, burst=120)
_ALGORITHM = "HS256"
# how stale an API key's last use may be recorded
LAST_USED_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    creator_id: int


def unauthorized(detail: str) -> ApiError:
    return ApiError(401, "Unauthorized", detail, {"WWW-Authenticate": 'Bearer realm="chorus"'})


class Accounts:
    """Registers creators, issues and checks their credentials."""

    def __init__(
        self, db: Database, secret: bytes, buckets: Buckets, requests: Limit = REQUESTS
    ) -> None:
        self._db = db
        self._secret = secret
        self._buckets = buckets
        self._requests = requests
        self._hasher = PasswordHasher()
        self._dummy: str | None = None  # hashed at the first login, not at start-up

    async def register(self, email: str, password: str, name: str) -> Tokens:
        email = _email(email)
        if len(password) < 10:
            raise ApiError(422, "Unprocessable Content", "the password needs 10 characters")
        digest = await asyncio.to_thread(self._hasher.hash, password)
        try:
            async with self._db.transaction() as session:
                # without a name, the email stands for it (cut as the column is)
                creator = Creator(name=(" ".join(name.split()) or email)[:200])
                session.add(creator)
                await session.flush()
                session.add(CreatorLogin(creator_id=creator.id, email=email, password_hash=digest))
                creator_id = creator.id
        except IntegrityError:
            raise ApiError(409, "Conflict", "an account with this email exists") from None
        return await self._issue(creator_id, uuid.uuid4().hex)

    async def login(self, email: str, password: str, address: str) -> Tokens:
        email = email.strip().lower()
        for key, limit in (
            (f"login:{email}", LOGIN_PER_EMAIL),
            (f"login@{address}", LOGIN_PER_ADDRESS),
        ):
            decision = await self._buckets.take(key, limit)
            if not decision.allowed:
                wait = str(max(1, int(decision.retry_after + 0.999)))
                raise ApiError(
                    429, "Too Many Requests", "too many login attempts", {"Retry-After": wait}
                )
        async with self._db.read() as session:
            found = await session.scalar(select(CreatorLogin).where(CreatorLogin.email == email))
        if found is None and self._dummy is None:
            self._dummy = await asyncio.to_thread(self._hasher.hash, secrets.token_hex(16))
        digest = found.password_hash if found else self._dummy or ""
        if not await asyncio.to_thread(self._verify, digest, password) or found is None:
            raise unauthorized("wrong email or password")
        return await self._issue(found.creator_id, uuid.uuid4().hex)

    async def refresh(self, token: str) -> Tokens:
        """Spend a refresh token for a new pair; a spent one revokes its whole family."""
        claims = self._decode(token, "refresh")
        now = utcnow()
        async with self._db.transaction() as session:
            row = await session.get(RefreshToken, claims["jti"], with_for_update=True)
            if row is None or row.revoked_at is not None:
                raise unauthorized("the refresh token was revoked")
            if row.used_at is not None:
                await _revoke_family(session, row.family, now)
                reuse = True
            else:
                row.used_at = now
                reuse = False
            family, creator_id = row.family, row.creator_id
        if reuse:
            raise unauthorized("the refresh token was already used: every session of it ended")
        return await self._issue(creator_id, family)

    async def logout(self, token: str) -> None:
        claims = self._decode(token, "refresh")
        async with self._db.transaction() as session:
            row = await session.get(RefreshToken, claims["jti"])
            if row is not None:
                await _revoke_family(session, row.family, utcnow())

    async def authenticate(self, authorization: str | None, scope: str) -> int:
        """The creator behind an ``Authorization: Bearer …`` header, with ``scope``."""
        if not authorization or not authorization.startswith("Bearer "):
            raise unauthorized("send Authorization: Bearer with an access token or API key")
        credential = authorization.removeprefix("Bearer ").strip()
        if not (credential.isascii() and credential.isprintable()):
            # tokens and keys are printable ASCII: anything else (a NUL, bytes that were
            # not UTF-8) is no credential, and could not even be looked up
            raise unauthorized("not a valid access token or API key")
        if credential.startswith(KEY_PREFIX):
            return await self._key(credential, scope)
        claims = self._decode(credential, "access")
        return int(claims["sub"])

    async def meter(self, creator_id: int) -> dict[str, str]:
        """Count one request of the creator's: the ``X-RateLimit-*`` headers to send, or
        429 (with them and ``Retry-After``) past the limit."""
        limit = self._requests
        decision = await self._buckets.take(f"api:{creator_id}", limit)
        # seconds until the bucket is full again
        reset = math.ceil((limit.burst - decision.remaining) / limit.rate)
        headers = {
            "X-RateLimit-Limit": str(limit.burst),
            "X-RateLimit-Remaining": str(max(0, decision.remaining)),
            "X-RateLimit-Reset": str(reset),
        }
        if not decision.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(decision.retry_after)))
            raise ApiError(429, "Too Many Requests", "too many requests; slow down", headers)
        return headers

    async def login_of(self, creator_id: int) -> tuple[Creator, CreatorLogin]:
        """The creator and their email (an access token's creator always has both)."""
        async with self._db.read() as session:
            creator = await session.get(Creator, creator_id)
            login = await session.get(CreatorLogin, creator_id)
        if creator is None or login is None:
            raise unauthorized("the account no longer exists")
        return creator, login

    async def confirm(self, creator_id: int, password: str) -> None:
        """401 unless ``password`` is the creator's (asked again before destructive acts)."""
        _, login = await self.login_of(creator_id)
        if not await asyncio.to_thread(self._verify, login.password_hash, password):
            raise unauthorized("wrong password")

    async def close(self, creator_id: int) -> None:
        """Delete the creator with their logins, sessions, keys and webhooks (their bots
        must be gone first)."""
        async with self._db.transaction() as session:
            creator = await session.get(Creator, creator_id)
            if creator is not None:
                await session.delete(creator)

    async def create_key(self, creator_id: int, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            detail = f"unknown scopes: {', '.join(unknown)}" if unknown else "name some scopes"
            raise ApiError(422, "Unprocessable Content", f"{detail} (known: {', '.join(SCOPES)})")
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        row = ApiKey(
            id=key_id,
            creator_id=creator_id,
            name=name,
            secret_hash=_digest(secret),
            scopes=sorted(set(scopes)),
            created_at=utcnow(),
        )
        async with self._db.transaction() as session:
            session.add(row)
        return row, f"{KEY_PREFIX}{key_id}_{secret}"

    async def keys(self, creator_id: int) -> list[ApiKey]:
        async with self._db.read() as session:
            rows = await session.scalars(
                select(ApiKey).where(ApiKey.creator_id == creator_id).order_by(ApiKey.created_at)
            )
            return list(rows)

    async def revoke_key(self, creator_id: int, key_id: str) -> None:
        async with self._db.transaction() as session:
            done = await session.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == key_id,
                    ApiKey.creator_id == creator_id,
                    ApiKey.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
        if not done.rowcount:  # type: ignore[attr-defined]
            raise ApiError(404, "Not Found", "no such API key")

    def access_token(self, creator_id: int, *, now: datetime | None = None) -> str:
        now = now or utcnow()
        claims = {
            "sub": str(creator_id),
            "typ": "access",
            "iat": now,
            "exp": now + ACCESS_TTL,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    async def _issue(self, creator_id: int, family: str) -> Tokens:
        now = utcnow()
        jti = uuid.uuid4().hex
        async with self._db.transaction() as session:
            session.add(
                RefreshToken(
                    id=jti,
                    creator_id=creator_id,
                    family=family,
                    expires_at=now + REFRESH_TTL,
                    created_at=now,
                )
            )
        refresh = jwt.encode(
            {
                "sub": str(creator_id),
                "typ": "refresh",
                "iat": now,
                "exp": now + REFRESH_TTL,
                "jti": jti,
            },
            self._secret,
            algorithm=_ALGORITHM,
        )
        return Tokens(
            self.access_token(creator_id, now=now),
            refresh,
            int(ACCESS_TTL.total_seconds()),
            creator_id,
        )

    def _decode(self, token: str, kind: str) -> dict[str, str]:
        try:
            claims: dict[str, str] = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["exp", "sub", "jti", "typ"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized(f"the {kind} token expired") from None
        except jwt.InvalidTokenError:
            raise unauthorized(f"not a valid {kind} token") from None
        if claims.get("typ") != kind:
            raise unauthorized(f"not a {kind} token")
        return claims

    async def _key(self, credential: str, scope: str) -> int:
        key_id, _, secret = credential.removeprefix(KEY_PREFIX).partition("_")
        async with self._db.read() as session:
            row = await session.get(ApiKey, key_id) if key_id else None
        if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
            raise unauthorized("unknown API key")
        if row.revoked_at is not None:
            raise unauthorized("the API key was revoked")
        if scope not in row.scopes:
            raise ApiError(403, "Forbidden", f"the API key lacks the {scope} scope")
        now = utcnow()
        last = row.last_used_at
        if last is None or as_utc(last) < now - LAST_USED_PRECISION:  # not a write per call
            async with self._db.transaction() as session:
                await session.execute(
                    update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now)
                )
        return row.creator_id

    def _verify(self, digest: str, password: str) -> bool:
        try:
            return self._hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False


async def _revoke_family(session: AsyncSession, family: str, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def _email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.fullmatch(email) or len(email) > 254:
        raise ApiError(422, "Unprocessable Content", "that is not an email address")
    return email


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
