"""Calling the creators' REST API in tests (the app is the ``api`` fixture): accounts,
credentials and problems."""

from __future__ import annotations

import uuid
from typing import Any

from tests.test_channels.telegram_app import Client

PASSWORD = "correct horse battery"


def email() -> str:
    return f"creator-{uuid.uuid4().hex[:8]}@example.com"


async def register(api: Client, address: str | None = None) -> dict[str, Any]:
    """A new creator account's tokens."""
    response = await api.post(
        "/api/v1/auth/register",
        json={"email": address or email(), "password": PASSWORD, "name": "Ana"},
    )
    assert response.status == 201, await response.text()
    tokens: dict[str, Any] = await response.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def problem(response: Any, status: int) -> dict[str, Any]:
    """The RFC 7807 problem of ``response``, which must have ``status``."""
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body
