"""Scans and images read with OCR: the real RapidOCR engine and its packaged models, on
small images made here and a scanned page of the shared documents; hostile inputs."""

from __future__ import annotations

import difflib
import io
import re

import pytest
from PIL import Image
from pypdf import PdfWriter

from knowledge.chunking import StructuredChunker
from knowledge.documents import Block, BlockKind, Limits, LoadedDocument, Progress
from knowledge.errors import DocumentTooLarge, UnreadableDocument, UnsupportedDocument
from knowledge.loaders import DocumentKind, load_bytes
from knowledge.loaders.detect import detect
from knowledge.loaders.ocr import OcrBox
from knowledge.loaders.ocrlayout import paragraphs
from tests.test_knowledge.loader_samples import (
    pageless_pdf,
    png_header,
    shared,
    text_image,
    text_pdf,
)

LOREM = "Chorus keeps the text layer of a report, and reads its scanned pages with OCR."
TEA = [
    ["Steep green tea for two minutes", "at eighty degrees, never boiling."],
    ["Oolong likes hotter water and", "a longer steep of four minutes."],
]


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _similar(found: str, expected: str) -> float:
    return difflib.SequenceMatcher(None, _squeeze(found), _squeeze(expected)).ratio()


def test_an_image_of_text_is_read_into_paragraphs_marked_ocr() -> None:
    steps: list[Progress] = []
    document = load_bytes(text_image(TEA), "tea-notes.png", progress=steps.append)
    assert document.mime_type == "image/png"
    assert document.pages is None
    assert [b.kind for b in document.blocks] == [BlockKind.PARAGRAPH, BlockKind.PARAGRAPH]
    assert all(b.ocr for b in document.blocks)
    for block, lines in zip(document.blocks, TEA, strict=True):
        assert _similar(block.text, " ".join(lines)) > 0.9, block.text
    assert document.title == "tea-notes"  # its first paragraph is a sentence, no title
    assert [s.stage for s in steps] == ["ocr", "ocr"]
    assert steps[-1] == Progress("ocr", 1, 1, "Read 1 page with OCR")


def test_a_multi_page_tiff_is_read_page_by_page() -> None:
    steps: list[Progress] = []
    tiff = text_image(TEA[:1], size=(1400, 300), image_format="TIFF", pages=2)
    document = load_bytes(tiff, "scan.tiff", progress=steps.append)
    assert document.mime_type == "image/tiff"
    assert document.pages == 2
    assert [b.page for b in document.blocks] == [1, 2]
    assert "page 2" in _squeeze(document.blocks[1].text)
    assert [(s.done, s.total) for s in steps] == [(0, 2), (1, 2), (2, 2)]
    assert steps[1].message == "Reading page 2 with OCR (2 of 2)…"


def test_a_scanned_pdf_page_is_read_with_its_accents() -> None:
    name = "pdf_scanned_french_diacritics.pdf"
    document = load_bytes(shared(name), name)
    text = " ".join(b.text for b in document.blocks)
    assert document.pages == 1
    assert all(b.ocr and b.page == 1 for b in document.blocks)
    for words in ("vieux whisky", "île intérieure", "à côté de l'alcôve ovoïde", "bûches"):
        assert words in text


def test_ocr_text_is_cited_as_ocr() -> None:
    blocks = (
        Block(BlockKind.PARAGRAPH, "Typed text from the text layer.", page=1),
        Block(BlockKind.HEADING, "Scanned annex", page=2, level=1),
        Block(BlockKind.PARAGRAPH, "Text read from a picture of page two.", page=2, ocr=True),
    )
    document = LoadedDocument("Mixed", "mixed.pdf", "application/pdf", blocks, pages=2)
    typed, scanned = StructuredChunker().split(document, "doc-1")
    assert (typed.ocr, typed.section) == (False, "")
    assert (scanned.ocr, scanned.section, scanned.page) == (True, "Scanned annex › OCR", 2)
    assert scanned.indexed_text().startswith("Scanned annex › OCR\n")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (text_image(TEA[:1], size=(200, 60), image_format="JPEG"), DocumentKind.JPEG),
        (text_image(TEA[:1], size=(200, 60), image_format="WEBP"), DocumentKind.WEBP),
        (text_image(TEA[:1], size=(200, 60), image_format="BMP"), DocumentKind.BMP),
        (text_image(TEA[:1], size=(200, 60), image_format="TIFF"), DocumentKind.TIFF),
    ],
)
def test_images_are_told_by_their_content_whatever_their_name(
    data: bytes, kind: DocumentKind
) -> None:
    assert detect(data, "notes.txt").kind is kind


def test_text_that_starts_like_a_bitmap_is_still_text() -> None:
    assert detect(b"BM is a name, not a bitmap header.\n", "bm.txt").kind is DocumentKind.TEXT


# hostile inputs: each is a clear error, never a crash


@pytest.mark.parametrize(("width", "height"), [(9_000, 9_000), (100_000, 100_000)])
def test_an_image_too_large_to_decode_is_refused_before_decoding(width: int, height: int) -> None:
    with pytest.raises(DocumentTooLarge, match="its image dimensions"):
        load_bytes(png_header(width, height), "bomb.png")


def test_a_truncated_image_is_unreadable() -> None:
    png = text_image(TEA)
    with pytest.raises(UnreadableDocument, match="the image is damaged"):
        load_bytes(png[: len(png) // 3], "cut.png")


def test_an_image_with_only_a_header_is_unreadable() -> None:
    with pytest.raises(UnreadableDocument, match="the image is damaged"):
        load_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100), "photo.md")


@pytest.mark.parametrize("size", [(20_000, 20), (20, 20_000)])
def test_a_strip_is_not_a_page(size: tuple[int, int]) -> None:
    strip = io.BytesIO()
    Image.new("L", size, "white").save(strip, format="PNG")
    with pytest.raises(UnreadableDocument, match=r"the image is a strip of .* not a page"):
        load_bytes(strip.getvalue(), "strip.png")


def test_an_image_without_text_says_ocr_found_none() -> None:
    blank = io.BytesIO()
    Image.new("RGB", (640, 480), "white").save(blank, format="PNG")
    with pytest.raises(UnreadableDocument, match="OCR found no words in the image"):
        load_bytes(blank.getvalue(), "white.png")


def test_a_pdf_without_pages_is_unreadable() -> None:
    with pytest.raises(UnreadableDocument, match="the PDF has no pages"):
        load_bytes(pageless_pdf(), "empty.pdf")


def _image_pdf(pages: int) -> bytes:
    frames = [Image.new("RGB", (300, 400), "white") for _ in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, format="PDF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def test_scanned_pages_over_the_ocr_limit_are_refused_before_any_is_read() -> None:
    with pytest.raises(DocumentTooLarge, match=r"scanned pages \(3\) is over the limit of 2"):
        load_bytes(_image_pdf(3), "long-scan.pdf", limits=Limits(max_ocr_pages=2))
    tiff = text_image(TEA[:1], size=(300, 100), image_format="TIFF", pages=3)
    with pytest.raises(DocumentTooLarge, match=r"page count \(3\) is over the limit of 2"):
        load_bytes(tiff, "long-scan.tiff", limits=Limits(max_ocr_pages=2))


def test_a_text_pdf_with_many_figure_pages_keeps_its_text_within_the_ocr_limit() -> None:
    """Pages of pictures in a PDF whose text layer suffices are figures: over the limit,
    only the first are read, and the document is learned as before OCR existed."""
    merged = PdfWriter()
    for part in (text_pdf([[LOREM], [LOREM], [LOREM]]), _image_pdf(2)):
        merged.append(io.BytesIO(part))
    out = io.BytesIO()
    merged.write(out)
    steps: list[Progress] = []
    document = load_bytes(
        out.getvalue(), "report.pdf", limits=Limits(max_ocr_pages=1), progress=steps.append
    )
    assert document.pages == 5
    assert [b.page for b in document.blocks] == [1, 2, 3]
    assert not any(b.ocr for b in document.blocks)
    assert [(s.done, s.total) for s in steps if s.stage == "ocr"] == [(0, 1), (1, 1)]


def test_with_ocr_turned_off_scans_and_images_are_refused() -> None:
    off = Limits(max_ocr_pages=0)
    with pytest.raises(UnreadableDocument, match="OCR\\) is turned off"):
        load_bytes(_image_pdf(1), "scan.pdf", limits=off)
    with pytest.raises(UnreadableDocument, match="OCR\\) is turned off"):
        load_bytes(text_image(TEA), "scan.png", limits=off)


def test_a_scanned_page_that_ocr_finds_empty_is_refused_clearly() -> None:
    with pytest.raises(UnreadableDocument, match="OCR found no words on its pages"):
        load_bytes(_image_pdf(1), "blank-scan.pdf")


def test_gif_images_are_still_not_documents() -> None:
    gif = io.BytesIO()
    Image.new("RGB", (40, 40), "white").save(gif, format="GIF")
    with pytest.raises(UnsupportedDocument, match="GIF image"):
        load_bytes(gif.getvalue(), "anim.gif")


# reading order, on boxes as OCR returns them


def _box(text: str, left: float, top: float, right: float, height: float = 20) -> OcrBox:
    return OcrBox(text, left, top, right, top + height, 0.99)


def test_boxes_become_lines_left_to_right_and_paragraphs_at_wide_gaps() -> None:
    boxes = [
        _box("world,", 160, 12, 260),  # a little lower than its neighbour, same line
        _box("Hello", 40, 10, 140),
        _box("second line.", 40, 36, 300),
        _box("A new paragraph.", 40, 90, 360),
    ]
    assert paragraphs(boxes) == [["Hello world,", "second line."], ["A new paragraph."]]


def test_two_columns_between_a_title_and_a_footer_are_read_column_by_column() -> None:
    title = _box("Two Column Title", 40, 10, 900, height=40)
    left = [_box(f"left {n}", 40, 70 + 26 * n, 440) for n in range(4)]
    right = [_box(f"right {n}", 470, 70 + 26 * n, 900) for n in range(4)]
    footer = _box("A footer across the page", 40, 220, 900)
    found = paragraphs([*right, footer, *left, title])
    lines = [line for group in found for line in group]
    assert lines == [
        "Two Column Title",
        *(f"left {n}" for n in range(4)),
        *(f"right {n}" for n in range(4)),
        "A footer across the page",
    ]


def test_a_larger_text_size_starts_a_paragraph_and_cjk_boxes_join_without_spaces() -> None:
    boxes = [
        _box("見出し", 40, 10, 200, height=40),
        _box("わたくしと", 40, 56, 150),
        _box("いふ現象は", 152, 56, 260),
    ]
    assert paragraphs(boxes) == [["見出し"], ["わたくしといふ現象は"]]
