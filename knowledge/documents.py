"""What a loader produces: a document as a sequence of structural blocks.

Loaders keep the structure chunking needs (headings with their level, paragraphs,
tables, list items) and where each block was found (page), so that every chunk, and
every citation, can say where its text comes from.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class BlockKind(enum.StrEnum):
    """The structural role of a block."""

    HEADING = "heading"
    PARAGRAPH = "paragraph"
    TABLE = "table"  # rows as lines, cells separated by " | "
    LIST_ITEM = "list_item"
    CODE = "code"


@dataclass(frozen=True, slots=True)
class Block:
    """One structural piece of a document, in reading order."""

    kind: BlockKind
    text: str
    page: int | None = None  # 1-based, for paged formats
    level: int = 0  # heading level: 1 is the top


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A document read into blocks, with its title and where it came from."""

    title: str
    source: str  # the file name or URL it was read from
    mime_type: str
    blocks: tuple[Block, ...]
    pages: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """What a loader accepts; exceeding any limit is a clear error, never a partial read."""

    max_bytes: int = 20 * 1024 * 1024
    max_pages: int = 2000
    max_unzipped_bytes: int = 200 * 1024 * 1024  # DOCX (a ZIP): against zip bombs
    max_zip_ratio: float = 200.0  # uncompressed / compressed, per member
    fetch_timeout: float = 20.0  # seconds, for URLs
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class Progress:
    """A step of a long ingestion, for a progress bar or a chat message."""

    stage: str  # "reading" | "chunking" | "embedding" | "indexing" | "done"
    done: int
    total: int | None
    message: str  # e.g. "Reading page 12 of 40…"


ProgressCallback = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """A progress callback that ignores progress."""
