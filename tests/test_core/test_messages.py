"""The channel-neutral message model: commands, inbound validation, outbound round trips."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.messages import (
    Attachment,
    AttachmentKind,
    Button,
    Channel,
    InboundMessage,
    Media,
    OutboundKind,
    OutboundMessage,
    Source,
    parse_command,
)

# --- parse_command ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", ("start", "")),
        ("/start@MyBot payload", ("start", "payload")),
        ("/start@MyBot", ("start", "")),
        ("/library 2", ("library", "2")),
        ("/library   2  3  ", ("library", "2  3")),
        ("/START", ("start", "")),
        ("  /help  ", ("help", "")),
        ("/voice on", ("voice", "on")),
        ("/my_command x", ("my_command", "x")),
        ("/create meditation", ("create", "meditation")),
    ],
)
def test_parse_command_recognises_commands(text: str, expected: tuple[str, str]) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "not a command",
        "",
        "   ",
        "/",
        " / ",
        "/ start",
        "/@MyBot",
        "//start",
        "/st-art",
        "/start!",
        "hello /start",
        "what about 1/2?",
    ],
)
def test_parse_command_ignores_plain_text(text: str) -> None:
    assert parse_command(text) == (None, "")


@pytest.mark.parametrize("text", ["/ÿ", "/é", "/²", "/café"])
def test_parse_command_accepts_only_ascii_command_names(text: str) -> None:
    """BUG (or at least a spec question): command names are checked with str.isalnum(),
    which is Unicode-aware, so "/ÿ", "/é", "/²" and "/café" are parsed as commands
    ("ÿ", ...) although command names elsewhere (Telegram's bot commands, the names the
    engine knows) are only ASCII letters, digits and underscores."""
    assert parse_command(text) == (None, "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("/library\t2", ("library", "2")), ("/start\npayload", ("start", "payload"))],
)
def test_parse_command_splits_on_any_whitespace(text: str, expected: tuple[str, str]) -> None:
    """BUG: only a space separates the name from the arguments, so a tab or a new line
    after the name makes the whole message plain text."""
    assert parse_command(text) == expected


# --- InboundMessage --------------------------------------------------------------------------


def _inbound(**overrides: object) -> InboundMessage:
    values: dict[str, object] = {
        "channel": Channel.TELEGRAM,
        "bot_id": "calm-coach",
        "sender_id": "42",
        "text": "hello",
    }
    values.update(overrides)
    return InboundMessage(**values)  # type: ignore[arg-type]


def test_inbound_defaults() -> None:
    before = datetime.now(UTC)
    message = _inbound()
    assert message.command is None
    assert message.command_args == ""
    assert message.attachments == ()
    assert message.button_payload is None
    assert message.received_at.tzinfo is not None
    assert before <= message.received_at <= datetime.now(UTC)


def test_inbound_rejects_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _inbound(received_at=datetime(2024, 5, 1, 12, 0))


@pytest.mark.parametrize("tz", [UTC, timezone(timedelta(hours=-5))])
def test_inbound_accepts_an_aware_datetime(tz: timezone) -> None:
    when = datetime(2024, 5, 1, 12, 0, tzinfo=tz)
    assert _inbound(received_at=when).received_at == when


def test_inbound_is_frozen() -> None:
    message = _inbound()
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.text = "changed"  # type: ignore[misc]
    assert message.text == "hello"


def test_inbound_is_slotted() -> None:
    message = _inbound()
    assert "__slots__" in vars(InboundMessage)
    assert not hasattr(message, "__dict__")
    with pytest.raises((AttributeError, TypeError)):
        message.extra = 1  # type: ignore[attr-defined]


def test_inbound_equality_and_attachments() -> None:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    voice = Attachment(AttachmentKind.VOICE, "audio/ogg", 1234, "file-1", filename="v.ogg")
    one = _inbound(received_at=when, attachments=(voice,))
    two = _inbound(received_at=when, attachments=(voice,))
    assert one == two
    assert hash(one) == hash(two)
    assert one.attachments[0].kind is AttachmentKind.VOICE


# --- OutboundMessage -------------------------------------------------------------------------


FULL = OutboundMessage(
    text="Here is your meditation [1]",
    kind=OutboundKind.AUDIO,
    buttons=(Button("Again", "flow:create"), Button("Library", "/library")),
    sources=(
        Source(number=1, title="Guide", document_id="doc-1", page=3, excerpt="Breathe."),
        Source(number=2, title="FAQ", url="https://example.com/faq", section="Sleep"),
    ),
    audio=Media(
        reference="media/a.ogg",
        mime_type="audio/ogg",
        filename="meditation.ogg",
        duration_seconds=612.5,
        size=1_000_000,
    ),
    document=Media(reference="media/a.pdf", mime_type="application/pdf", size=0),
)


def test_outbound_round_trips_with_everything() -> None:
    data = FULL.to_dict()
    assert OutboundMessage.from_dict(data) == FULL


def test_outbound_round_trips_through_json() -> None:
    data = json.loads(json.dumps(FULL.to_dict()))
    assert OutboundMessage.from_dict(data) == FULL


def test_outbound_to_dict_is_compact() -> None:
    data = FULL.to_dict()
    assert data["kind"] == "audio"
    assert data["buttons"] == [
        {"label": "Again", "payload": "flow:create"},
        {"label": "Library", "payload": "/library"},
    ]
    assert data["sources"][0] == {
        "number": 1,
        "title": "Guide",
        "document_id": "doc-1",
        "page": 3,
        "excerpt": "Breathe.",
    }
    assert data["sources"][1] == {
        "number": 2,
        "title": "FAQ",
        "section": "Sleep",
        "url": "https://example.com/faq",
    }
    # zero is kept, only missing values are dropped
    assert data["document"] == {
        "reference": "media/a.pdf",
        "mime_type": "application/pdf",
        "size": 0,
    }


def test_a_plain_outbound_message_is_just_text() -> None:
    message = OutboundMessage(text="Hi")
    assert message.to_dict() == {"text": "Hi", "kind": "text"}
    assert OutboundMessage.from_dict(message.to_dict()) == message


@pytest.mark.parametrize("kind", list(OutboundKind), ids=str)
def test_every_kind_round_trips(kind: OutboundKind) -> None:
    message = OutboundMessage(text="…", kind=kind)
    assert OutboundMessage.from_dict(message.to_dict()) == message


def test_an_image_and_the_answer_mark_round_trip() -> None:
    chart = OutboundMessage(
        text="Messages per day",
        kind=OutboundKind.IMAGE,
        image=Media(reference="media:c.png", mime_type="image/png", size=2048),
    )
    assert chart.to_dict()["image"] == {
        "reference": "media:c.png",
        "mime_type": "image/png",
        "size": 2048,
    }
    assert OutboundMessage.from_dict(chart.to_dict()) == chart
    for grounded in (True, False):
        answer = OutboundMessage(text="…", grounded=grounded)
        assert answer.to_dict()["grounded"] is grounded
        assert OutboundMessage.from_dict(json.loads(json.dumps(answer.to_dict()))) == answer
    assert "grounded" not in OutboundMessage(text="…").to_dict()


def test_from_dict_fills_in_defaults() -> None:
    assert OutboundMessage.from_dict({}) == OutboundMessage()
    assert OutboundMessage.from_dict({"text": "x", "audio": None}) == OutboundMessage(text="x")
