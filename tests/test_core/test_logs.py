"""Logs: request ids on every record, secrets never written."""

from __future__ import annotations

import json
import logging

from core.logs import REQUEST_ID, JsonFormatter, RequestIdFilter, TextFormatter, request_id


def record(message: str, *args: object) -> logging.LogRecord:
    made = logging.LogRecord("chorus.test", logging.INFO, __file__, 1, message, args, None)
    RequestIdFilter().filter(made)
    return made


def test_secrets_are_masked_in_both_formats() -> None:
    secrets = (
        "7000000001:AAF-test-token-for-the-demo-bot_0123456",
        "sk_test_51Habcdefghijklmnop",
        "whsec_abcdefghijklmnop",
        "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
    )
    for secret in secrets:
        line = record("calling https://api.telegram.org/bot%s/getMe", secret)
        for formatter in (TextFormatter(), JsonFormatter()):
            written = formatter.format(line)
            assert "[redacted]" in written
            assert secret.removeprefix("Bearer ") not in written


def test_the_request_id_is_on_every_record_of_a_request() -> None:
    token = REQUEST_ID.set("trace-7")
    try:
        inside = record("inside")
    finally:
        REQUEST_ID.reset(token)
    outside = record("outside")
    assert json.loads(JsonFormatter().format(inside))["request_id"] == "trace-7"
    assert "request_id" not in json.loads(JsonFormatter().format(outside))
    assert "[trace-7]" in TextFormatter().format(inside)
    assert "[-]" in TextFormatter().format(outside)


def test_offered_request_ids_are_kept_only_when_sane() -> None:
    assert request_id("abc-123_x.y") == "abc-123_x.y"
    for bad in ("", "with space", "x" * 65, "semi;colon", None):
        made = request_id(bad)
        assert len(made) == 16
        assert made != bad
