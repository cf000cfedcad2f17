"""Turning runs of text lines into blocks, and choosing a document's title.

Shared by the loaders that only see lines (PDF pages, plain text): joining wrapped
lines back into one paragraph (without a space between two CJK characters, without
breaking a hyphenated word apart), spotting bullet items, and the title rules every
loader applies.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from knowledge.documents import Block, BlockKind

_SPACES = re.compile(r"[^\S\n]+")
_BULLET = re.compile(r"^\s*(?:[•◦▪▫‣∙·●○■□➢►▶–—*+-])\s+(?=\S)")
_SOFT_HYPHENS = "\u00ad\u0002"  # PDFium reports a soft hyphen at a line end as U+0002
_GENERIC_TITLES = frozenset(
    {
        "untitled",
        "title",
        "document",
        "untitled document",
        "adobe photoshop pdf",
        "powerpoint presentation",
        "slide 1",
        "microsoft word",
        "home",
        "index",
    }
)
_OFFICE_TITLE = re.compile(r"^microsoft (?:word|powerpoint|excel) - ", re.IGNORECASE)
_FILE_NAME = re.compile(
    r"\.(?:pdf|docx?|odt|rtf|txt|md|html?|indd|qxp|pages|pptx?|xlsx?|tex|dvi|e?ps|psd|ai)$",
    re.IGNORECASE,
)


def clean_line(text: str) -> str:
    """One line with its runs of spaces collapsed and its ends trimmed."""
    return _SPACES.sub(" ", text).strip()


def clean_text(text: str) -> str:
    """Text with spaces collapsed inside lines, lines trimmed, blank lines dropped."""
    lines = (clean_line(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def is_wide(char: str) -> bool:
    """Whether a character is written without spaces between words (CJK and the like)."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def join_lines(lines: Iterable[str]) -> str:
    """Join the wrapped lines of one paragraph back into one line of text."""
    joined = ""
    for raw in lines:
        line = clean_line(raw)
        if not line:
            continue
        if not joined:
            joined = line
        elif joined[-1] in _SOFT_HYPHENS:
            joined = joined[:-1] + line
        elif (joined.endswith("-") and joined[-2:-1].isalpha() and line[0].islower()) or (
            is_wide(joined[-1]) and is_wide(line[0])
        ):
            joined += line
        else:
            joined += " " + line
    return joined.replace("\u0002", "").replace("\u00ad", "")


def bullet_item(line: str) -> str | None:
    """The text of a bulleted line without its bullet, or None if it is not one."""
    match = _BULLET.match(line)
    return line[match.end() :] if match else None


def blocks_from_lines(groups: Iterable[list[str]], page: int | None = None) -> list[Block]:
    """Paragraph and list-item blocks from groups of lines (one group per paragraph).

    A line that starts with a bullet opens a list item; the lines after it belong to
    that item until the group ends or another bullet starts.
    """
    blocks: list[Block] = []
    for group in groups:
        kind = BlockKind.PARAGRAPH
        current: list[str] = []
        for line in group:
            item = bullet_item(line)
            if item is not None:
                _flush(blocks, kind, current, page)
                kind, current = BlockKind.LIST_ITEM, [item]
            else:
                current.append(line)
        _flush(blocks, kind, current, page)
    return blocks


def _flush(blocks: list[Block], kind: BlockKind, lines: list[str], page: int | None) -> None:
    text = join_lines(lines)
    if text:
        blocks.append(Block(kind, text, page=page))
    lines.clear()


def meaningful_title(candidate: str | None) -> str | None:
    """The candidate title, cleaned, unless it is empty or a tool's placeholder."""
    if not candidate:
        return None
    title = clean_line(candidate.replace("\n", " "))
    lowered = title.casefold()
    if (
        len(title) < 2
        or not any(char.isalpha() for char in title)
        or lowered in _GENERIC_TITLES
        or _OFFICE_TITLE.match(title)
        or _FILE_NAME.search(title)
    ):
        return None
    return title[:200]


def heading_like(line: str) -> str | None:
    """The line, if it reads like a heading: short, with letters, not a sentence end."""
    text = clean_line(line).replace("\u0002", "")
    if (
        not text
        or len(text) > 120
        or text[-1] in ".,;:。、，；"
        or not any(c.isalpha() for c in text)
    ):
        return None
    if text.casefold().startswith(("page ", "copyright", "©")):
        return None
    return text


def fallback_title(name: str) -> str:
    """A title made from a file name or URL: the file's stem, else the host name."""
    if "://" in name:
        parts = urlsplit(name)
        stem = PurePosixPath(unquote(parts.path)).stem
        return stem or parts.hostname or name
    return PurePosixPath(name.replace("\\", "/")).stem or name
