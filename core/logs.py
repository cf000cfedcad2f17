"""Logging set-up: human-readable text or one JSON object per line.

Every record carries the request id of the web request it serves (``request_id``), set
by the server's middleware and carried by the inbox from the webhook that stored an
update to the processing that answers it, so one grep follows a message from webhook to
reply. Secrets that could slip into a message (bot tokens, Stripe keys, webhook secrets,
bearer tokens) are masked in both formats.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "request_id"}

#: the id of the request being served (None outside of one)
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SECRETS = re.compile(
    r"(?<!\d)\d{5,16}:[A-Za-z0-9_-]{30,64}"  # Telegram bot tokens
    r"|(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]{8,}"  # Stripe keys
    r"|whsec_[A-Za-z0-9]{8,}"  # Stripe webhook secrets
    r"|(?<=Bearer )[A-Za-z0-9._~+/-]{8,}=*"  # bearer tokens
)


def request_id(offered: str | None = None) -> str:
    """``offered`` (a caller's ``X-Request-Id``) when it is a sane id, else a new one."""
    if offered and _VALID_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex[:16]


def redact(text: str) -> str:
    """``text`` with anything that looks like a secret masked."""
    return _SECRETS.sub("[redacted]", text)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id ("-" outside of requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


class TextFormatter(logging.Formatter):
    """``time level logger [request]: message``, secrets masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s]: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get() or "-"
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with any ``extra=`` fields kept as keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (rid := getattr(record, "request_id", "-")) != "-":
            entry["request_id"] = rid
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    """Send all logs to stderr in the chosen format."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
