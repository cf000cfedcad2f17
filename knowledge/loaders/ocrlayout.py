"""Reading order for OCR: text boxes of one page back into lines and paragraphs.

OCR finds pieces of text anywhere on a page, in no useful order. The page is cut
recursively at its widest empty gap, across or down (an "XY cut"): a column gutter
that no box crosses splits the region into columns read left then right, an empty
band splits it into parts read top to bottom, so two-column passages between
full-width titles and footers keep their order. Boxes whose vertical extents overlap
enough sit on one line, read left to right; a line starts a new paragraph after a gap
clearly wider than a line's height, when the text size changes, or when it is indented
against its column.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.loaders.ocr import OcrBox
from knowledge.loaders.textblocks import bullet_item, is_wide

#: boxes are on one line when they overlap by this share of the smaller one's height
LINE_OVERLAP = 0.5
#: a gap between lines wider than this share of a line's height starts a paragraph
PARAGRAPH_GAP = 0.8
#: a change of text height by this factor starts a paragraph (a heading, small print)
SIZE_CHANGE = 1.35
#: the indentation, in line heights, that marks a paragraph's first line
INDENT = 1.5
#: an empty vertical stretch at least this many line heights wide divides columns
MIN_GUTTER = 0.5


@dataclass(frozen=True, slots=True)
class _Line:
    boxes: tuple[OcrBox, ...]

    @property
    def text(self) -> str:
        text = ""
        for box in self.boxes:
            wide = text and is_wide(text[-1]) and is_wide(box.text[0])
            text += box.text if not text or wide else " " + box.text
        return text

    @property
    def top(self) -> float:
        return min(b.top for b in self.boxes)

    @property
    def bottom(self) -> float:
        return max(b.bottom for b in self.boxes)

    @property
    def left(self) -> float:
        return min(b.left for b in self.boxes)

    @property
    def height(self) -> float:
        return statistics.median(b.height for b in self.boxes)


@dataclass(frozen=True, slots=True)
class _Region:
    """Boxes that no empty gap divides, and the left edge of the column they are in."""

    boxes: list[OcrBox]
    margin: float


def paragraphs(boxes: Sequence[OcrBox]) -> list[list[str]]:
    """The page's text as paragraphs of lines, in reading order."""
    if not boxes:
        return []
    lines: list[tuple[_Line, float]] = []
    for region in _regions(list(boxes), min(b.left for b in boxes)):
        for line in _lines(region.boxes):
            before = lines[-1][0] if lines else None
            if before is not None and _continues(before, line):
                lines[-1] = (_Line(before.boxes + line.boxes), lines[-1][1])
            else:
                lines.append((line, region.margin))
    return _paragraphs(lines)


def _continues(before: _Line, line: _Line) -> bool:
    """Whether ``line`` goes on ``before`` to its right: a wide space on one line (words
    of a line spaced out, a label and its value) cuts it into regions like a gutter."""
    right = max(b.right for b in before.boxes)
    return line.left >= right and all(_same_line(list(before.boxes), b) for b in line.boxes)


def _regions(boxes: list[OcrBox], margin: float, depth: int = 0) -> list[_Region]:
    """The boxes as regions in reading order, cut at the widest gap first."""
    if len(boxes) < 2 or depth > 200:
        return [_Region(boxes, margin)]
    height = statistics.median(b.height for b in boxes)
    across = _widest_gap([(b.top, b.bottom) for b in boxes])
    down = _widest_gap([(b.left, b.right) for b in boxes])
    gutter = down is not None and down[1] >= MIN_GUTTER * height
    if down is not None and gutter and (across is None or down[1] >= across[1]):
        left = [b for b in boxes if b.right <= down[0]]
        right = [b for b in boxes if b.left >= down[0]]
        return [
            *_regions(left, min(b.left for b in left), depth + 1),
            *_regions(right, min(b.left for b in right), depth + 1),
        ]
    if across is not None:
        above = [b for b in boxes if b.bottom <= across[0]]
        below = [b for b in boxes if b.top >= across[0]]
        return [*_regions(above, margin, depth + 1), *_regions(below, margin, depth + 1)]
    return [_Region(boxes, margin)]


def _widest_gap(spans: list[tuple[float, float]]) -> tuple[float, float] | None:
    """The middle and the width of the widest empty stretch between the spans, if any."""
    ordered = sorted(spans)
    best: tuple[float, float] | None = None
    reach = ordered[0][1]
    for start, end in ordered[1:]:
        if start > reach and (best is None or start - reach > best[1]):
            best = ((start + reach) / 2, start - reach)
        reach = max(reach, end)
    return best


def _lines(boxes: list[OcrBox]) -> list[_Line]:
    """Boxes grouped into lines (top to bottom), each line's boxes left to right."""
    rows: list[list[OcrBox]] = []
    for box in sorted(boxes, key=lambda b: b.middle):
        row = rows[-1] if rows else None
        if row is not None and _same_line(row, box):
            row.append(box)
        else:
            rows.append([box])
    return [_Line(tuple(sorted(row, key=lambda b: b.left))) for row in rows]


def _same_line(row: list[OcrBox], box: OcrBox) -> bool:
    top = max(min(b.top for b in row), box.top)
    bottom = min(max(b.bottom for b in row), box.bottom)
    smaller = min(statistics.median(b.height for b in row), box.height)
    return bottom - top >= LINE_OVERLAP * smaller


def _paragraphs(lines: list[tuple[_Line, float]]) -> list[list[str]]:
    groups: list[list[str]] = []
    before: _Line | None = None
    for line, margin in lines:
        if before is None or _breaks(before, line, margin):
            groups.append([])
        groups[-1].append(line.text)
        before = line
    return groups


def _breaks(before: _Line, line: _Line, margin: float) -> bool:
    """Whether ``line`` starts a new paragraph after ``before``."""
    height = min(before.height, line.height)
    if line.top - before.bottom > PARAGRAPH_GAP * height:
        return True
    ratio = max(before.height, line.height) / max(height, 1.0)
    if ratio > SIZE_CHANGE:
        return True
    indented = line.left - margin > INDENT * height
    opens_item = bullet_item(before.text) is not None  # its next lines hang indented
    return indented and not opens_item and before.left - margin <= INDENT * height / 2
