"""The terminal adapter on its own: lines in, rendered replies out."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from channels.terminal import TerminalChannel, locale_language, render_text, spoken_by
from core.messages import (
    Button,
    InboundMessage,
    Media,
    OutboundKind,
    OutboundMessage,
    Source,
)

MENU = OutboundMessage(
    text="Pick one", buttons=(Button("Tea", "drink:tea"), Button("Coffee", "drink:coffee"))
)


def make_channel(
    stdin: bytes,
    replies: list[list[OutboundMessage]],
    *,
    interactive: bool = False,
    language: str | None = None,
) -> tuple[TerminalChannel, list[InboundMessage], io.StringIO, io.StringIO]:
    received: list[InboundMessage] = []
    queue = list(replies)

    async def sink(message: InboundMessage) -> list[OutboundMessage]:
        received.append(message)
        return queue.pop(0) if queue else []

    out, err = io.StringIO(), io.StringIO()
    channel = TerminalChannel(
        "demo",
        sink,
        sender_id="tester",
        bot_name="Mira",
        stdin=io.BytesIO(stdin),
        stdout=out,
        stderr=err,
        interactive=interactive,
        language=language,
    )
    return channel, received, out, err


async def test_numbers_press_the_buttons_last_shown() -> None:
    channel, received, out, _ = make_channel(b"hi\n2\n3\n/library 2\n", [[MENU], [], []])
    await channel.run()
    assert received[0].text == "hi"
    assert received[0].button_payload is None
    assert received[1].button_payload == "drink:coffee"
    assert received[1].text == "Coffee"
    # replies without buttons clear the numbering: "3" is just text now
    assert received[2].button_payload is None
    assert received[2].text == "3"
    assert received[3].command == "library"
    assert received[3].command_args == "2"
    assert out.getvalue().startswith("you> hi\nMira> Pick one\n        1) Tea\n        2) Coffee\n")


async def test_the_bot_speaks_under_its_name_and_the_user_as_you() -> None:
    answer = OutboundMessage(text="Breathe out.\n\nSlowly.", sources=(Source(1, "Notes"),))
    piped, _, out, _ = make_channel(b"hello\n", [[answer]])
    await piped.run()
    assert out.getvalue() == (
        "you> hello\nMira> Breathe out.\n\n      Slowly.\n      Sources:\n        [1] Notes\n"
    )
    # at a keyboard the prompt is the "you> " the user types after; nothing is echoed
    typed, _, shown, _ = make_channel(b"hello\n", [[answer]], interactive=True)
    await typed.run()
    assert shown.getvalue().startswith("you> Mira> Breathe out.\n")
    assert shown.getvalue().count("hello") == 0


async def test_quit_or_exit_leaves_the_chat_without_reaching_the_bot() -> None:
    for word in (b"/quit", b"/exit", b"  /QUIT "):
        channel, received, _, _ = make_channel(b"hello\n" + word + b"\nnot read\n", [[], []])
        await channel.run()
        assert [m.text for m in received] == ["hello"]


def test_a_long_name_indents_no_further_than_twelve() -> None:
    said = spoken_by("A very long bot name indeed> ", "one\ntwo")
    assert said == "A very long bot name indeed> one\n            two"


async def test_out_of_range_number_is_text() -> None:
    channel, received, _, _ = make_channel(b"7\n", [])
    channel.render([MENU])
    await channel.run()
    assert received[0].button_payload is None
    assert received[0].text == "7"


async def test_invalid_utf8_is_replaced_with_a_warning() -> None:
    channel, received, _, err = make_channel(b"ok \xc3\x28 line\n\xef\xbf\xbd fine\n", [])
    await channel.run()
    assert received[0].text == "ok \ufffd( line"
    assert "line 1 is not valid UTF-8" in err.getvalue()
    assert "line 2" not in err.getvalue()  # a real U+FFFD is valid UTF-8


async def test_crlf_line_endings_are_removed() -> None:
    channel, received, _, _ = make_channel(b"hello\r\n", [])
    await channel.run()
    assert received[0].text == "hello"


def test_render_sources_progress_and_media() -> None:
    answer = OutboundMessage(
        text="Breathe out slowly [1].",
        sources=(
            Source(number=1, title="Notes", page=3, section="Breath"),
            Source(number=2, title="Site", url="https://example.com/a"),
        ),
    )
    assert render_text(answer) == (
        "Breathe out slowly [1].\nSources:\n  [1] Notes (p. 3, Breath)\n"
        "  [2] Site (https://example.com/a)"
    )
    assert render_text(OutboundMessage(text="Working", kind=OutboundKind.PROGRESS)) == "… Working"
    audio = OutboundMessage(
        audio=Media(
            reference="m1", mime_type="audio/ogg", filename="calm.ogg", duration_seconds=61.2
        )
    )
    assert render_text(audio) == "[audio: calm.ogg, 61 s]"
    chart = OutboundMessage(
        text="Messages per day",
        kind=OutboundKind.IMAGE,
        image=Media(reference="media:c.png", mime_type="image/png", filename="chart.png"),
    )
    assert render_text(chart) == "Messages per day\n[image: chart.png]"
    shown = render_text(chart, lambda reference: Path("/data/media/c.png"))
    assert shown == "Messages per day\n[image: /data/media/c.png]"


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "es_ES.UTF-8"}, "es-ES"),
        ({"LANG": "de_DE.UTF-8", "LC_MESSAGES": "fr_FR", "LC_ALL": ""}, "fr-FR"),
        ({"LANG": "de_DE", "LC_ALL": "pt_BR.utf8", "LANGUAGE": "uk:ru"}, "uk"),
        ({"LANG": "sr_RS@latin"}, "sr-RS"),
        ({"LANGUAGE": ":tr_TR:", "LANG": "de"}, "tr-TR"),
        # the C and POSIX locales, and empty values, name no language
        ({"LC_ALL": "C.UTF-8", "LANG": "ru_RU.UTF-8"}, "ru-RU"),
        ({"LANGUAGE": "", "LC_ALL": "POSIX", "LANG": "C"}, None),
        ({"LANG": "not a locale!"}, None),
        ({}, None),
    ],
)
def test_the_locale_names_the_users_language_as_gettext_reads_it(
    environ: dict[str, str], language: str | None
) -> None:
    assert locale_language(environ) == language


async def test_every_message_reports_the_users_language_and_warnings_are_in_it() -> None:
    upload = Path(__file__)
    lines = f"1\nhi\n/upload {upload}\n".encode() + b"\xff\n"
    channel, received, _, err = make_channel(lines, [[MENU]], language="de-DE")
    await channel.run(begin=True)
    assert [m.language for m in received] == ["de-DE"] * 5
    assert received[1].button_payload == "drink:tea"
    assert received[3].attachments
    assert "Warnung: Zeile 4 ist kein gültiges UTF-8" in err.getvalue()
    english, received, _, _ = make_channel(b"hi\n", [])
    await english.run()
    assert received[0].language is None


def test_media_is_labelled_in_the_replys_language() -> None:
    audio = Media(reference="m1", mime_type="audio/ogg", filename="calm.ogg", duration_seconds=1261)
    assert render_text(OutboundMessage(audio=audio, language="de")) == "[Audio: calm.ogg, 1261 s]"
    assert render_text(OutboundMessage(audio=audio, language="ru")) == "[аудио: calm.ogg, 1261 с]"
    document = Media(reference="m2", mime_type="application/pdf", filename="notes.pdf")
    assert render_text(OutboundMessage(document=document, language="fr")) == (
        "[document : notes.pdf]"
    )
    image = Media(reference="m3", mime_type="image/png", filename="chart.png")
    assert render_text(OutboundMessage(image=image, language="es")) == "[imagen: chart.png]"
    assert render_text(OutboundMessage(image=image)) == "[image: chart.png]"
