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
    ocr: bool = False  # read by OCR from an image of the page, not from a text layer


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
    max_ocr_pages: int = 30  # scanned pages (or image frames) read with OCR; 0 turns OCR off
    max_image_pixels: int = 60_000_000  # an image's width × height: against decompression bombs


#: the stages of ingesting one document, in order, with the share of the whole each
#: takes on the document's progress bar (OCR is most of the work when pages are scanned;
#: a document without scanned pages skips that stage; the vectors are computed
#: afterwards, in the background: their "embedding" progress counts passages)
STAGES: tuple[tuple[str, float], ...] = (
    ("reading", 35.0),
    ("ocr", 45.0),
    ("chunking", 5.0),
    ("indexing", 15.0),
    ("done", 0.0),
)
_STARTS = {name: sum(share for _, share in STAGES[:n]) for n, (name, _) in enumerate(STAGES)}
_SHARES = dict(STAGES)


@dataclass(frozen=True, slots=True)
class Progress:
    """A step of a long ingestion, for a progress bar or a chat message; ``done`` of
    ``total`` counts within the stage (pages read, passages embedded)."""

    stage: str  # "reading" | "ocr" | "chunking" | "indexing" | "done"; "embedding" (vectors)
    done: int
    total: int | None
    message: str  # e.g. "Reading page 12 of 40…"

    @property
    def percent(self) -> float:
        """How far the whole document is, 0 to 100: the stages before this one, and this
        one's share in proportion to ``done`` of ``total``. It only grows while the
        stages come in order, so one bar can show a document from start to end."""
        if self.stage == "embedding":  # a bar of its own: the passages embedded
            return 100.0 * min(1.0, self.done / self.total) if self.total else 0.0
        if self.stage not in _STARTS:
            return 0.0
        within = min(1.0, max(0.0, self.done / self.total)) if self.total else 0.0
        return _STARTS[self.stage] + _SHARES[self.stage] * within


ProgressCallback = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """A progress callback that ignores progress."""
