"""Pages that are pictures of text (scanned PDF pages, photos, image files) read by OCR.

Each page image is recognised, its text boxes put back in reading order, and the
paragraphs turned into blocks marked as OCR'd, so a citation can say that its text
was read from an image (and may hold recognition mistakes).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import TYPE_CHECKING

from knowledge.documents import Block, Progress, ProgressCallback
from knowledge.errors import OcrUnavailable, UnreadableDocument
from knowledge.loaders.ocr import recognise
from knowledge.loaders.ocrlayout import paragraphs
from knowledge.loaders.textblocks import blocks_from_lines

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger("chorus.ocr")
_NOISE = re.compile(r"^[\W\d_]{0,10}$")
#: a page image longer than this many times its width (or the reverse) is a strip, not
#: a page: OCR's resizing cannot handle it
MAX_ASPECT = 25


def read_page(image: Image, name: str, page: int | None) -> list[Block]:
    """The blocks OCR reads on one page image of document ``name`` (none when it finds
    no words); raises ``UnreadableDocument`` when OCR cannot read the image at all."""
    where = f"page {page}" if page is not None else "the image"
    width, height = image.size
    if max(width, height) > MAX_ASPECT * max(min(width, height), 1):
        raise UnreadableDocument(
            name, f"{where} is a strip of {width}×{height} pixels, not a page OCR can read"
        )
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    try:
        boxes = recognise(rgb)
    except OcrUnavailable:
        raise
    except Exception as exc:  # the engine on an input it cannot take: the input's fault
        log.warning("OCR failed on %s of %s", where, name, exc_info=True)
        raise UnreadableDocument(name, f"OCR could not read {where}") from exc
    groups = paragraphs(boxes)
    blocks = blocks_from_lines(groups, page=page)
    return [dataclasses.replace(b, ocr=True) for b in blocks if not _NOISE.match(b.text)]


def ocr_progress(progress: ProgressCallback, done: int, total: int, page: int) -> None:
    """Tell how far OCR is: ``done`` of ``total`` pages read, ``page`` being next."""
    if done < total:
        message = f"Reading page {page} with OCR ({done + 1} of {total})…"
    else:
        message = f"Read {total} page{'s' if total != 1 else ''} with OCR"
    progress(Progress("ocr", done, total, message))
