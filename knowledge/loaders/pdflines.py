"""The lines of a PDF page with their position, and where its paragraphs break.

PDFium's text of a page is a list of lines without blank lines between paragraphs, so
paragraph breaks are read from geometry: the position of each line's first character
(measured along and across the page's direction of writing) and its size. A line starts a new
paragraph when the spacing above it is clearly larger than the page's usual line
pitch, when the font size changes, or when it leaves a bulleted item's indentation.

Vertical Japanese text set with some CID fonts comes out of PDFium with zero-width
boxes, and PDFium's text page silently skips such text. Rotating those text objects a
quarter turn (in memory only) makes them horizontal, and readable, in reading order.

Callers hold ``pdf.PDFIUM_LOCK``.
"""

from __future__ import annotations

import ctypes
import itertools
import math
import re
from dataclasses import dataclass

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]

from knowledge.loaders.textblocks import bullet_item

_LINE = re.compile(r"[^\r\n]+")
_JOINED_HYPHEN = "\ufffe"
_EPSILON = 0.01  # PDFium drops text objects narrower than this
_QUARTER_TURN = pdfium.PdfMatrix(0, 1, -1, 0, 0, 0)
_GAP_FACTOR = 1.4  # a pitch this much above the usual one is a paragraph break
_SIZE_FACTOR = 1.25  # a font size change this large is a new block (a heading)


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a page: its text, and where its first character sits (display axes)."""

    text: str
    x: float  # along the direction of writing
    y: float  # across it: earlier lines have larger values
    size: float  # about the font size


def page_lines(page: pdfium.PdfPage) -> list[Line]:
    """The lines of a page, in PDFium's reading order."""
    textpage = page.get_textpage()
    try:
        if _has_skipped_text(page):
            rotated = _rotated_textpage(page)
            if _visible(rotated) > _visible(textpage):
                textpage, rotated = rotated, textpage
            rotated.close()
        return _lines(textpage)
    finally:
        textpage.close()


def _lines(textpage: pdfium.PdfTextPage) -> list[Line]:
    text = textpage.get_text_range()
    count = textpage.count_chars()
    found: list[tuple[str, tuple[float, float], float]] = []
    steps: list[tuple[float, float]] = []  # from each line's first character to its second
    for match in _LINE.finditer(text):
        content = match.group()
        stripped = content.strip()
        first = match.start() + len(content) - len(content.lstrip())
        if not stripped or first >= count:
            continue
        start, size = _centre(textpage, first)
        if len(stripped) > 1 and not stripped[1].isspace() and first + 1 < count:
            (x, y), _ = _centre(textpage, first + 1)
            steps.append((x - start[0], y - start[1]))
        # PDFium joins a word hyphenated across lines itself, marking the hyphen U+FFFE
        found.append((stripped.replace(_JOINED_HYPHEN, ""), start, size))
    ux, uy = _writing_direction(steps)
    # x along the writing direction, y across it, growing towards earlier lines
    return [Line(text, x * ux + y * uy, y * ux - x * uy, size) for text, (x, y), size in found]


def _centre(textpage: pdfium.PdfTextPage, index: int) -> tuple[tuple[float, float], float]:
    """The centre of a character's box, and the box's larger side (about the font size)."""
    left, bottom, right, top = textpage.get_charbox(index, loose=True)
    return ((left + right) / 2, (bottom + top) / 2), max(right - left, top - bottom)


def _writing_direction(vectors: list[tuple[float, float]]) -> tuple[float, float]:
    """The page's dominant direction of writing, as a unit vector (left to right if unsure).

    Taken from the text itself rather than the page's /Rotate, which says nothing about
    how the content stream draws its text.
    """
    dx = sum(x for x, _ in vectors)
    dy = sum(y for _, y in vectors)
    length = math.hypot(dx, dy)
    return (dx / length, dy / length) if length > 0.1 else (1.0, 0.0)


def _has_skipped_text(page: pdfium.PdfPage) -> bool:
    """Whether the page has text objects that PDFium's text page would skip.

    The raw API is used here: it runs on every page, and helper objects cost more.
    """
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    bounds = (ctypes.byref(left), ctypes.byref(bottom), ctypes.byref(right), ctypes.byref(top))
    raw_page = page.raw
    for index in range(pdfium_c.FPDFPage_CountObjects(raw_page)):
        obj = pdfium_c.FPDFPage_GetObject(raw_page, index)
        if pdfium_c.FPDFPageObj_GetType(obj) != pdfium_c.FPDF_PAGEOBJ_TEXT:
            continue
        if not pdfium_c.FPDFPageObj_GetBounds(obj, *bounds):
            continue
        if right.value - left.value < _EPSILON and top.value - bottom.value >= _EPSILON:
            return True
    return False


def _rotated_textpage(page: pdfium.PdfPage) -> pdfium.PdfTextPage:
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT], max_depth=1):
        obj.transform(_QUARTER_TURN)
    return page.get_textpage()


def _visible(textpage: pdfium.PdfTextPage) -> int:
    return sum(1 for char in textpage.get_text_range() if not char.isspace())


def paragraphs(lines: list[Line]) -> list[list[str]]:
    """The page's lines grouped into paragraphs (and bulleted items)."""
    # The usual pitch is the lower quartile: on a short page, paragraph gaps would drag
    # a median up until it no longer tells a wrapped line from a new paragraph.
    pitches = sorted(a.y - b.y for a, b in itertools.pairwise(lines) if a.y - b.y > 0)
    usual = pitches[len(pitches) // 4] if pitches else 0.0
    groups: list[list[str]] = []
    bullet_x: float | None = None
    previous: Line | None = None
    for line in lines:
        is_bullet = bullet_item(line.text) is not None
        if previous is None or _breaks(previous, line, usual, bullet_x, is_bullet):
            groups.append([])
            bullet_x = None
        if is_bullet:
            bullet_x = line.x
        groups[-1].append(line.text)
        previous = line
    return groups


def _breaks(
    previous: Line, line: Line, usual: float, bullet_x: float | None, is_bullet: bool
) -> bool:
    """Whether ``line`` starts a new paragraph after ``previous``."""
    if line.size == 0 or previous.size == 0:
        return False
    pitch = previous.y - line.y
    if abs(pitch) < 0.3 * min(line.size, previous.size):
        return False  # the same visual line, split by PDFium (e.g. table columns)
    if pitch < 0 or (usual and pitch > _GAP_FACTOR * usual):
        return True  # upwards (a new column) or extra spacing
    if max(line.size, previous.size) > _SIZE_FACTOR * min(line.size, previous.size):
        return True
    return bullet_x is not None and not is_bullet and line.x <= bullet_x + 0.25 * line.size
