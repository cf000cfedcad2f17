"""Pages that are pictures of text (scanned PDF pages, photos, image files) read by OCR.

Each page image is recognised, its text boxes put back in reading order, and the
paragraphs turned into blocks marked as OCR'd, so a citation can say that its text
was read from an image (and may hold recognition mistakes).
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from knowledge.documents import Block, Progress, ProgressCallback
from knowledge.loaders.ocr import recognise
from knowledge.loaders.ocrlayout import paragraphs
from knowledge.loaders.textblocks import blocks_from_lines

if TYPE_CHECKING:
    from PIL.Image import Image

_NOISE = re.compile(r"^[\W\d_]{0,10}$")


def read_page(image: Image, page: int | None) -> list[Block]:
    """The blocks OCR reads on one page image (none when it finds no words)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    groups = paragraphs(recognise(rgb))
    blocks = blocks_from_lines(groups, page=page)
    return [dataclasses.replace(b, ocr=True) for b in blocks if not _NOISE.match(b.text)]


def ocr_progress(progress: ProgressCallback, done: int, total: int, page: int) -> None:
    """Tell how far OCR is: ``done`` of ``total`` pages read, ``page`` being next."""
    if done < total:
        message = f"Reading page {page} with OCR ({done + 1} of {total})…"
    else:
        message = f"Read {total} page{'s' if total != 1 else ''} with OCR"
    progress(Progress("ocr", done, total, message))
