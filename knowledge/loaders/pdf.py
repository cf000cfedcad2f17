"""PDF loader: the text layer of every page, read with PDFium, in paragraphs with page numbers.

PDFium gives a page's text as lines; where a paragraph ends comes from the geometry of
those lines (extra spacing, a change of font size, a bullet). A page that carries no
text (or a few stray letters) but draws images, or whose text is garbage (private-use
or replacement characters), is a scan: it is rendered and read with OCR, up to a limit
of pages. A PDF in which neither finds any text is refused with a clear message
rather than ingested as nothing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]

from knowledge.documents import Block, Limits, LoadedDocument, Progress, ProgressCallback
from knowledge.errors import DocumentTooLarge, UnreadableDocument
from knowledge.loaders.pdflines import Line, page_lines, paragraphs
from knowledge.loaders.scans import ocr_progress, read_page
from knowledge.loaders.textblocks import (
    blocks_from_lines,
    fallback_title,
    heading_like,
    meaningful_title,
)

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger("chorus.loaders")

# PDFium is not thread-safe, not even across documents, and loaders run in worker
# threads: every call into it, in this process, goes through this one lock.
PDFIUM_LOCK = threading.Lock()

PDF_MIME = "application/pdf"
MIN_LETTERS_PER_PAGE = 25  # below this on average, a PDF's "text" is stamps and page numbers
OCR_DPI = 200  # scanned pages are rendered at this resolution for OCR
MAX_RENDER_SIDE = 3000  # ... but never larger than this many pixels on a side
MAX_BAD_SHARE = 0.3  # a page whose text is more than this share of junk characters is garbage
_SPACE = re.compile(r"\s+")
_NOT_LETTER = re.compile(r"[\W\d_]+")
# replacement character, private use areas, and control characters (PDFium's U+0002 aside)
_JUNK = re.compile("[\ufffd\ue000-\uf8ff\U000f0000-\U0010ffff\x00\x01\x03-\x08\x0e-\x1f\x7f-\x9f]")
_NOISE = re.compile(r"^[\W\d_]{0,10}$")


def load_pdf(data: bytes, name: str, limits: Limits, progress: ProgressCallback) -> LoadedDocument:
    """The document in a PDF's text layer; raises if it is encrypted, broken or scanned."""
    if b"%%EOF" not in data[-2048:]:
        raise UnreadableDocument(
            name, "the PDF is incomplete: it is cut off before its end (an interrupted download?)"
        )
    with PDFIUM_LOCK:
        document = _open(data, name)
    try:
        return _read(document, name, limits, progress)
    finally:
        with PDFIUM_LOCK:
            document.close()


def _open(data: bytes, name: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise UnreadableDocument(name, "it is password-protected") from exc
        if exc.err_code == pdfium_c.FPDF_ERR_SECURITY:
            raise UnreadableDocument(name, "it uses an unsupported kind of encryption") from exc
        if exc.err_code == pdfium_c.FPDF_ERR_SUCCESS:  # how PDFium refuses an empty page tree
            raise UnreadableDocument(name, "the PDF has no pages") from exc
        raise UnreadableDocument(name, "the PDF is damaged and cannot be opened") from exc


def _read(
    document: pdfium.PdfDocument, name: str, limits: Limits, progress: ProgressCallback
) -> LoadedDocument:
    total = len(document)
    if total == 0:
        raise UnreadableDocument(name, "the PDF has no pages")
    if total > limits.max_pages:
        raise DocumentTooLarge(name, f"its page count ({total})", f"{limits.max_pages} pages")
    pages: dict[int, list[Block]] = {}
    scanned: list[int] = []
    letters = 0
    first_groups: list[list[str]] = []
    for number, (lines, drawn) in enumerate(_pages(document, name), start=1):
        text = "\n".join(line.text for line in lines)
        page_letters, garbage = _quality(text)
        if garbage or (drawn and page_letters < MIN_LETTERS_PER_PAGE):
            scanned.append(number)
        if not garbage:
            letters += page_letters
            groups = paragraphs(lines)
            first_groups = first_groups or groups[:3]
            page_blocks = blocks_from_lines(groups, page=number)
            pages[number] = [b for b in page_blocks if not _NOISE.match(b.text)]
        if number == 1 or number % 10 == 0 or number == total:
            progress(Progress("reading", number, total, f"Reading page {number} of {total}…"))
    if scanned and limits.max_ocr_pages > 0:
        scanned = _within_limit(scanned, limits, name, has_text=letters >= _enough(total))
        for done, number in enumerate(scanned):
            ocr_progress(progress, done, len(scanned), number)
            image = _render(document, number, name)
            try:
                found = read_page(image, name, number)
            except UnreadableDocument as exc:  # one odd page (a strip) spoils not the rest
                log.warning("skipping page %d of %s: %s", number, name, exc.reason)
                found = []
            if found:
                pages[number] = found  # what OCR reads replaces the stray letters
                letters += sum(len(_NOT_LETTER.sub("", b.text)) for b in found)
        ocr_progress(progress, len(scanned), len(scanned), scanned[-1])
    blocks = [block for number in sorted(pages) for block in pages[number]]
    if letters < _enough(total) or not blocks:
        raise UnreadableDocument(name, _no_text(scanned, limits))
    if not first_groups and blocks[0].ocr:
        first_groups = [[b.text] for b in blocks[:3]]
    with PDFIUM_LOCK:
        metadata_title = _metadata_title(document)
    title = meaningful_title(metadata_title) or _first_heading(first_groups) or fallback_title(name)
    return LoadedDocument(
        title=title, source=name, mime_type=PDF_MIME, blocks=tuple(blocks), pages=total
    )


def _enough(pages: int) -> int:
    """The letters a PDF of ``pages`` pages needs to count as having text."""
    return MIN_LETTERS_PER_PAGE * pages


def _within_limit(scanned: list[int], limits: Limits, name: str, *, has_text: bool) -> list[int]:
    """The scanned pages to read with OCR. Over the limit, a scan is refused; a PDF
    whose text layer is enough on its own (its pages of pictures are figures) keeps
    its text and has only its first scanned pages read."""
    if len(scanned) <= limits.max_ocr_pages:
        return scanned
    if not has_text:
        raise DocumentTooLarge(
            name,
            f"its number of scanned pages ({len(scanned)})",
            f"{limits.max_ocr_pages} pages read with OCR",
        )
    log.warning(
        "%s: reading only %d of its %d pages without text with OCR (MAX_OCR_PAGES)",
        name,
        limits.max_ocr_pages,
        len(scanned),
    )
    return scanned[: limits.max_ocr_pages]


def _no_text(scanned: list[int], limits: Limits) -> str:
    """Why a PDF has no readable text, in words for its creator."""
    if not scanned:
        return "it has no readable text (no text layer, and no page images to read)"
    if limits.max_ocr_pages < 1:
        return "it has no readable text, it looks scanned, and reading scans (OCR) is turned off"
    return "it has no readable text: it looks scanned, and OCR found no words on its pages"


def _render(document: pdfium.PdfDocument, number: int, name: str) -> Image:
    """Page ``number`` as an RGB image for OCR, at ``OCR_DPI`` within ``MAX_RENDER_SIDE``."""
    with PDFIUM_LOCK:
        try:
            page = document[number - 1]
            try:
                width, height = page.get_size()
                scale = min(OCR_DPI / 72, MAX_RENDER_SIDE / max(width, height, 1.0))
                bitmap = page.render(scale=scale, grayscale=False)
                image: Image = bitmap.to_pil().convert("RGB")
            finally:
                page.close()
        except pdfium.PdfiumError as exc:
            raise UnreadableDocument(name, f"page {number} is damaged and cannot be drawn") from exc
    return image


def _pages(document: pdfium.PdfDocument, name: str) -> Iterator[tuple[list[Line], bool]]:
    """The lines of each page in turn, and whether the page draws more than text (what
    a scan is made of); a page PDFium cannot parse is a broken PDF."""
    for index in range(len(document)):
        with PDFIUM_LOCK:
            try:
                page = document[index]
            except pdfium.PdfiumError as exc:
                raise UnreadableDocument(name, f"page {index + 1} is damaged") from exc
            try:
                lines = page_lines(page)
                drawn = _draws(page)
            except pdfium.PdfiumError as exc:
                raise UnreadableDocument(name, f"the text of page {index + 1} is damaged") from exc
            finally:
                page.close()
        yield lines, drawn


def _draws(page: pdfium.PdfPage) -> bool:
    """Whether the page draws more than text: an image, shapes, a shading."""
    kinds = (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH, pdfium_c.FPDF_PAGEOBJ_SHADING)
    return any(True for _ in page.get_objects(filter=kinds, max_depth=3))


def _first_heading(groups: list[list[str]]) -> str | None:
    """The first one-line paragraph of the first page that reads like a heading."""
    for group in groups:
        heading = heading_like(group[0]) if len(group) == 1 else None
        if heading:
            return heading
    return None


def _quality(text: str) -> tuple[int, bool]:
    """The number of letters on a page, and whether its text is mostly junk characters."""
    visible = len(_SPACE.sub("", text))
    letters = len(_NOT_LETTER.sub("", text))
    bad = len(_JUNK.findall(text))
    return letters, visible > 0 and bad > MAX_BAD_SHARE * visible


def _metadata_title(document: pdfium.PdfDocument) -> str | None:
    try:
        title = document.get_metadata_value("Title")
    except pdfium.PdfiumError:
        return None
    return title if isinstance(title, str) else None
