"""The terminal channel: talk to a bot from a shell, interactively or through a pipe.

Lines from stdin become inbound messages; replies are printed as plain text, each
prefixed by who speaks (``Mira> ``), and the user's own lines as ``you> `` (the prompt
when interactive, an echo when piped, so a piped run reads as a transcript). Buttons are
shown as numbered options, and typing a number presses the button with that number, so
the guided flow works the same as tapping an inline keyboard on Telegram.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from channels.base import MessageSink, where, wording
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

UPLOAD = "/upload"
#: what leaves the chat, as the end of input does
LEAVE = frozenset({"/quit", "/exit"})
YOU = "you> "
MAX_INDENT = 12  # a long bot name does not push its replies off the screen


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
                self._stderr.write(
                    f"warning: line {line_number} is not valid UTF-8; "
                    "the undecodable bytes were replaced with \ufffd\n"
                )
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
    if reply.sources:
        tr = wording(reply)
        lines.append(tr.gettext("Sources:"))
        for source in reply.sources:
            place = where(source, tr, source.url)
            lines.append(f"  [{source.number}] {source.title}" + (f" ({place})" if place else ""))
    for media, label in (
        (reply.audio, "audio"),
        (reply.document, "document"),
        (reply.image, "image"),
    ):
        if media is not None:
            length = f", {media.duration_seconds:.0f} s" if media.duration_seconds else ""
            path = locate(media.reference) if locate else None
            lines.append(f"[{label}: {path or media.filename or media.reference}{length}]")
    return "\n".join(lines)
