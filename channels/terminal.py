"""The terminal channel: talk to a bot from a shell, interactively or through a pipe.

Lines from stdin become inbound messages; replies are printed as plain text, each
prefixed by who speaks (``Mira> ``), and the user's own lines as ``you> `` (the prompt
when interactive, an echo when piped, so a piped run reads as a transcript). Buttons are
shown as numbered options, and typing a number presses the button with that number, so
the guided flow works the same as tapping an inline keyboard on Telegram.

The user's language is the one their locale names (:func:`locale_language`, read the way
gettext reads it) unless ``chorus chat --language`` says otherwise: it goes with every
message as the language their platform reports (``/language`` still wins), and the
terminal's own words (a warning, a media label) are in it.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from channels.base import MessageSink, where, wording
from core.i18n.translator import Translator, translator
from core.messages import (
    Attachment,
    AttachmentKind,
    Button,
    Channel,
    InboundMessage,
    OutboundKind,
    OutboundMessage,
    file_reference,
    parse_command,
)
from core.outbox import Address
from core.text import normalise

UPLOAD = "/upload"
#: what leaves the chat, as the end of input does
LEAVE = frozenset({"/quit", "/exit"})
YOU = "you> "
MAX_INDENT = 12  # a long bot name does not push its replies off the screen
#: where gettext finds the user's language, strongest first
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
#: locales that name no language
NO_LANGUAGE = frozenset({"", "C", "POSIX"})


def locale_language(environ: Mapping[str, str]) -> str | None:
    """The user's language as their locale names it, read the way gettext does:
    ``LANGUAGE`` (a ``:``-separated list, its first entry), then ``LC_ALL``,
    ``LC_MESSAGES``, ``LANG``; the C and POSIX locales name none. ``es_ES.UTF-8`` gives
    ``es-ES``; None when no variable names a language."""
    for variable in LOCALE_VARIABLES:
        for entry in environ.get(variable, "").split(":"):
            name = entry.split(".", 1)[0].split("@", 1)[0].strip()
            if name not in NO_LANGUAGE and normalise(name) is not None:
                return name.replace("_", "-")
    return None


class TerminalChannel:
    """Reads lines from ``stdin``, hands them to ``sink`` and prints the replies."""

    def __init__(
        self,
        bot_id: str,
        sink: MessageSink,
        *,
        sender_id: str,
        bot_name: str,
        stdin: BinaryIO,
        stdout: TextIO,
        stderr: TextIO,
        interactive: bool = False,
        settle: Callable[[], Awaitable[None]] | None = None,
        locate: Callable[[str], Path | None] | None = None,
        language: str | None = None,
    ) -> None:
        self._bot_id = bot_id
        self._sink = sink
        self._sender_id = sender_id
        self._speaker = f"{bot_name}> "
        self._stdin = stdin
        self._stdout = stdout
        self._stderr = stderr
        self._interactive = interactive
        self._buttons: tuple[Button, ...] = ()
        self._settle = settle
        self._locate = locate
        # the user's language (their locale's, or --language): reported with each message
        self._language = language
        self._tr: Translator = translator(language)

    async def run(self, *, begin: bool = False) -> None:
        """Talk until end of input or ``/quit``; with ``begin`` (someone new), the bot
        greets first, as it does when a chat opens on any channel, so its first choices
        can be pressed."""
        if begin:
            self.render(await self._sink(self.to_message("/start")))
        line_number = 0
        while True:
            if self._interactive:
                self._stdout.write(YOU)
                self._stdout.flush()
            raw = await asyncio.to_thread(self._stdin.readline)
            if not raw:
                if self._interactive:
                    self._stdout.write("\n")
                return
            line_number += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "replace")
                warning = self._tr.gettext(
                    "warning: line %(line)s is not valid UTF-8; the undecodable bytes "
                    "were replaced with %(replacement)s",
                    line=line_number,
                    replacement="\ufffd",
                )
                self._stderr.write(warning + "\n")
            line = text.rstrip("\r\n")
            if not self._interactive:  # the terminal showed what was typed; a pipe did not
                self._stdout.write(f"{YOU}{line}\n")
            if line.strip().lower() in LEAVE:
                return
            replies = await self._sink(self.to_message(line))
            self.render(replies)
            if self._settle is not None:
                # content being made arrives before the next line is read, so a piped
                # script sees the same order as someone waiting at the keyboard
                await self._settle()

    def to_message(self, line: str) -> InboundMessage:
        """The inbound message for one typed line; a number presses a shown button."""
        stripped = line.strip()
        if stripped.isdigit() and 1 <= int(stripped) <= len(self._buttons):
            button = self._buttons[int(stripped) - 1]
            return InboundMessage(
                channel=Channel.TERMINAL,
                bot_id=self._bot_id,
                sender_id=self._sender_id,
                text=button.label,
                button_payload=button.payload,
                language=self._language,
            )
        if stripped.startswith(UPLOAD + " "):
            return self._upload(stripped[len(UPLOAD) :].strip())
        command, args = parse_command(line)
        return InboundMessage(
            channel=Channel.TERMINAL,
            bot_id=self._bot_id,
            sender_id=self._sender_id,
            text=line,
            command=command,
            command_args=args,
            language=self._language,
        )

    def _upload(self, name: str) -> InboundMessage:
        """``/upload PATH`` sends a file, as attaching one does on other channels."""
        path = Path(name).expanduser().resolve()
        size = path.stat().st_size if path.is_file() else 0
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        kind = AttachmentKind.VOICE if mime.startswith("audio/") else AttachmentKind.DOCUMENT
        return InboundMessage(
            channel=Channel.TERMINAL,
            bot_id=self._bot_id,
            sender_id=self._sender_id,
            attachments=(Attachment(kind, mime, size, file_reference(path), path.name),),
            language=self._language,
        )

    async def deliver(self, address: Address, messages: Sequence[OutboundMessage]) -> None:
        """Print messages pushed to this terminal's user (finished content, progress)."""
        if address.bot_id == self._bot_id and address.sender_id == self._sender_id:
            self.render(list(messages))

    def render(self, replies: list[OutboundMessage]) -> None:
        """Print replies; remember the last set of buttons for number presses."""
        shown = False
        for reply in replies:
            self._stdout.write(spoken_by(self._speaker, render_text(reply, self._locate)) + "\n")
            if reply.buttons:
                self._buttons = reply.buttons
                shown = True
        if replies and not shown:
            self._buttons = ()
        if self._interactive and replies:
            self._stdout.write("\n")
        self._stdout.flush()


def spoken_by(speaker: str, text: str) -> str:
    """``text`` said by ``speaker`` (``Mira> ``): its first line after the name, the
    others indented under it, so each reply stands apart from the next."""
    indent = " " * min(len(speaker), MAX_INDENT)
    first, *rest = text.split("\n")
    return "\n".join([speaker + first, *(indent + line if line else "" for line in rest)])


def render_text(reply: OutboundMessage, locate: Callable[[str], Path | None] | None = None) -> str:
    """A reply as terminal text: progress lines, numbered buttons, a sources list, and
    media as the local file to play (``locate`` finds it)."""
    if reply.kind is OutboundKind.PROGRESS:
        return f"… {reply.text}"
    lines = [reply.text] if reply.text else []
    lines += [
        f"  {b.label}: {b.url}" if b.url else f"  {n}) {b.label}"
        for n, b in enumerate(reply.buttons, 1)
    ]
    tr = wording(reply)
    if reply.sources:
        lines.append(tr.gettext("Sources:"))
        for source in reply.sources:
            place = where(source, tr, source.url)
            lines.append(f"  [{source.number}] {source.title}" + (f" ({place})" if place else ""))
    for media, kind in (
        (reply.audio, "audio"),
        (reply.document, "document"),
        (reply.image, "image"),
    ):
        if media is not None:
            path = locate(media.reference) if locate else None
            file = str(path or media.filename or media.reference)
            lines.append(_media_label(kind, file, media.duration_seconds, tr))
    return "\n".join(lines)


def _media_label(kind: str, file: str, seconds: float | None, tr: Translator) -> str:
    """``[audio: /path/x.mp3, 62 s]``: a piece of media as the file to open, in ``tr``'s
    language (a whole message for each kind, so each translates as a whole)."""
    if kind == "audio" and seconds:
        length = f"{seconds:.0f}"  # plain digits: scripts read the length
        return tr.gettext("[audio: %(file)s, %(seconds)s s]", file=file, seconds=length)
    if kind == "audio":
        return tr.gettext("[audio: %(file)s]", file=file)
    if kind == "document":
        return tr.gettext("[document: %(file)s]", file=file)
    return tr.gettext("[image: %(file)s]", file=file)
