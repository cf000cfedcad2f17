"""Plain-text loader, and the decoding of text of unknown encoding.

Files arrive in whatever encoding their author's editor used: UTF-8 with or without a
byte-order mark, UTF-16 from Windows tools, cp1252, Shift-JIS, GB18030. A byte-order
mark or a declared charset is trusted first, then strict UTF-8 (by far the most common),
and only then does charset-normalizer guess. Decoded text that is full of control
characters is not text at all: the caller treats it as binary.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import unicodedata

import charset_normalizer

from knowledge.documents import Block, BlockKind, LoadedDocument
from knowledge.errors import UnreadableDocument
from knowledge.loaders.textblocks import blocks_from_lines, fallback_title, heading_like

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v\x1b")
_MAX_CONTROL_SHARE = 0.01
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_NUMBERED_HEADING = re.compile(
    r"^(?:section|article|chapter|part|appendix)\s+[\dIVXivx]+[a-z]?\s*[–—:.-]\s*[^\n]{1,80}$", re.I
)
_WRAP_WIDTH = 100  # hard-wrapped text stays under this; a longer line is a whole paragraph
TEXT_MIME = "text/plain"


def decode_text(data: bytes, charset: str | None = None) -> str | None:
    """The bytes decoded as text, or None when they are not text in any encoding.

    ``charset`` is a declared encoding (an HTTP ``charset`` parameter). Servers often
    declare ISO-8859-1 for UTF-8 text, and text that is valid UTF-8 is almost never
    anything else, so the order is: byte-order mark, UTF-8, the declared charset, a guess.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return _text_or_none(data[len(bom) :].decode(encoding, errors="replace"))
    for encoding in ("utf-8", charset) if charset else ("utf-8",):
        try:
            text = data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
        if looks_like_text(text):
            return _normalise_newlines(text)
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        return None
    # Short Western texts fit cp1250, cp1252 and cp1257 equally well; cp1252 is by far
    # the most common of them, so it wins a tie.
    tied = (
        match
        for match in matches
        if match.encoding == "cp1252"
        and match.chaos <= best.chaos
        and match.coherence >= best.coherence - 0.01
    )
    return _text_or_none(str(next(tied, best)))


def _text_or_none(text: str) -> str | None:
    return _normalise_newlines(text) if looks_like_text(text) else None


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def looks_like_text(text: str) -> bool:
    """Whether decoded text is human text rather than binary data seen as characters."""
    if not text:
        return True
    sample = text[:200_000]
    bad = sum(
        1
        for char in sample
        if char == "\ufffd"
        or (unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS)
    )
    return bad <= _MAX_CONTROL_SHARE * len(sample)


def _numbered_heading(block: Block) -> Block:
    """A paragraph that names a numbered part ("Section 6 – Term and Termination.") is
    the heading of what follows: plain text has no other way to say so."""
    if block.kind is BlockKind.PARAGRAPH and _NUMBERED_HEADING.match(block.text):
        return dataclasses.replace(
            block, kind=BlockKind.HEADING, text=block.text.rstrip(". "), level=2
        )
    return block


def load_text(text: str, name: str) -> LoadedDocument:
    """A plain-text document: paragraphs separated by blank lines, bullets as list items.

    Lines within a paragraph are joined back into one, unless the paragraph has lines
    too long to have been wrapped: then each line is a paragraph of its own.
    """
    groups: list[list[str]] = []
    for part in _BLANK_LINE.split(text.replace("\f", "\n\n")):
        lines = part.split("\n")
        if max(len(line) for line in lines) > _WRAP_WIDTH:
            groups += ([line] for line in lines)  # one paragraph per line: nothing was wrapped
        else:
            groups.append(lines)
    blocks = [_numbered_heading(block) for block in blocks_from_lines(groups)]
    if not blocks:
        raise UnreadableDocument(name, "it contains no text")
    first_line = text.strip().split("\n", 1)[0]
    title = heading_like(first_line) if len(first_line) <= 100 else None
    return LoadedDocument(
        title=title or fallback_title(name),
        source=name,
        mime_type=TEXT_MIME,
        blocks=tuple(blocks),
    )
