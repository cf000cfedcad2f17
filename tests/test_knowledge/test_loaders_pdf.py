"""The PDF loader on the shared real PDFs and on broken, encrypted and synthetic ones."""

from __future__ import annotations

import difflib
import re

import pytest

from knowledge.documents import Block, BlockKind, Limits, Progress
from knowledge.errors import DocumentTooLarge, UnreadableDocument
from knowledge.loaders import load_bytes
from tests.test_knowledge.loader_samples import encrypted_pdf, shared, shared_names, text_pdf

SCANNED = [
    *shared_names("pdf_scanned_no_text_layer_*.pdf"),
    *shared_names("pdf_image_only_*.pdf"),
    # Checked: a single 900x900 JPEG from Photoshop, no text objects, no OCR layer in any
    # revision; its only "title" is Photoshop's placeholder. So it is a scan too.
    "pdf_scanned_french_diacritics.pdf",
]
LOREM = (
    "Chorus reads the text layer of each page and keeps the page number with every "
    "paragraph, so that answers can cite the page they come from."
)


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("name", SCANNED)
def test_a_pdf_without_a_text_layer_is_found_to_be_a_scan(name: str) -> None:
    """Every page of these is left to OCR (read in test_ocr.py and bench/ocr.py); with
    OCR turned off, that is what the refusal says."""
    off = Limits(max_ocr_pages=0)
    with pytest.raises(UnreadableDocument, match="looks scanned, and reading scans"):
        load_bytes(shared(name), name, limits=off)


def test_japanese_vertical_two_column_text_matches_the_reference() -> None:
    document = load_bytes(shared("pdf_ja_two_column_cid_jo.pdf"), "pdf_ja_two_column_cid_jo.pdf")
    expected = shared("pdf_ja_two_column_cid_jo.expected.txt").decode("utf-8")
    text = "".join(block.text for block in document.blocks)
    ratio = difflib.SequenceMatcher(None, _squeeze(text), _squeeze(expected), autojunk=False)
    assert ratio.ratio() > 0.95
    assert "わたくしといふ現象は" in text
    assert "宮澤賢治" in text
    assert document.pages == 1
    assert {block.page for block in document.blocks} == {1}
    assert document.title == "序"  # no metadata title: the first heading-like line
    assert document.mime_type == "application/pdf"


def test_paragraphs_keep_their_page_numbers() -> None:
    pages = [[LOREM, "A second paragraph on the first page, after a gap."], ["Page two. " + LOREM]]
    document = load_bytes(text_pdf(pages, title="Field Guide"), "guide.pdf")
    assert document.title == "Field Guide"
    assert document.pages == 2
    assert [(block.page, block.text) for block in document.blocks] == [
        (1, LOREM),
        (1, "A second paragraph on the first page, after a gap."),
        (2, "Page two. " + LOREM),
    ]
    assert all(block.kind is BlockKind.PARAGRAPH for block in document.blocks)


def test_paragraphs_of_a_turned_page_are_found_along_its_writing_direction() -> None:
    pages = [[LOREM, "A second paragraph, after a gap, on a landscape page."]]
    document = load_bytes(text_pdf(pages, turned=True), "landscape.pdf")
    assert [block.text for block in document.blocks] == [
        LOREM,
        "A second paragraph, after a gap, on a landscape page.",
    ]


def test_title_falls_back_to_the_first_heading_then_the_file_name() -> None:
    with_heading = text_pdf([[LOREM]], title="untitled", heading="Breathing Basics")
    assert load_bytes(with_heading, "a.pdf").title == "Breathing Basics"
    plain = text_pdf([[LOREM + " It ends with a full stop."]])
    assert load_bytes(plain, "notes/evening-ritual.pdf").title == "evening-ritual"


def test_words_hyphenated_across_lines_are_joined() -> None:
    words = "mindfulness meditation " * 6 + "a gentle breathing exercise for every evening"
    hyphenated = text_pdf([[words]], hyphenate=True)
    text = load_bytes(hyphenated, "h.pdf").blocks[0].text
    assert "\ufffe" not in text
    assert text == words.strip()


def test_latin_text_with_accents_survives() -> None:
    text = "Café, crème brûlée et pâte à choux : la pâtisserie française " * 3
    document = load_bytes(text_pdf([[text]]), "fr.pdf")
    assert document.blocks[0].text == text.strip()


def test_progress_reports_every_tenth_page_and_the_last() -> None:
    steps: list[Progress] = []
    document = load_bytes(text_pdf([[LOREM]] * 25), "long.pdf", progress=steps.append)
    assert [step.done for step in steps] == [1, 10, 20, 25]
    assert steps[-1] == Progress("reading", 25, 25, "Reading page 25 of 25…")
    assert document.pages == 25


def test_a_synthetic_200_page_pdf_is_read_whole() -> None:
    pages = [[f"Page {n}. {LOREM}", f"Second paragraph of page {n}."] for n in range(1, 201)]
    document = load_bytes(text_pdf(pages), "two-hundred.pdf")
    assert document.pages == 200
    assert len(document.blocks) == 400
    assert document.blocks[-1] == Block(BlockKind.PARAGRAPH, "Second paragraph of page 200.", 200)


def test_too_many_pages_is_refused_before_reading() -> None:
    with pytest.raises(DocumentTooLarge, match="page count"):
        load_bytes(text_pdf([[LOREM]] * 12), "big.pdf", limits=Limits(max_pages=10))


def test_a_password_protected_pdf_is_refused() -> None:
    locked = encrypted_pdf(text_pdf([[LOREM]]), user_password="s3cret")
    with pytest.raises(UnreadableDocument, match="it is password-protected"):
        load_bytes(locked, "locked.pdf")


def test_a_pdf_encrypted_only_against_editing_is_read() -> None:
    restricted = encrypted_pdf(text_pdf([[LOREM]], title="Restricted"), user_password="")
    document = load_bytes(restricted, "restricted.pdf")
    assert document.title == "Restricted"
    assert document.blocks[0].text == LOREM


def test_a_truncated_pdf_is_refused() -> None:
    whole = text_pdf([[LOREM]] * 5)
    with pytest.raises(UnreadableDocument, match="incomplete"):
        load_bytes(whole[: len(whole) * 2 // 3], "cut.pdf")


def test_a_pdf_with_a_damaged_body_is_refused() -> None:
    broken = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    with pytest.raises(UnreadableDocument, match="damaged"):
        load_bytes(broken, "broken.pdf")


def test_a_text_layer_of_private_use_characters_is_garbage_read_by_ocr_instead() -> None:
    junk = text_pdf([[LOREM, LOREM]], junk_unicode=True)
    document = load_bytes(junk, "junk.pdf")
    assert all(block.ocr for block in document.blocks)
    text = " ".join(block.text for block in document.blocks)
    ratio = difflib.SequenceMatcher(None, _squeeze(text), _squeeze(f"{LOREM} {LOREM}"))
    assert ratio.ratio() > 0.95, text
    with pytest.raises(UnreadableDocument, match="looks scanned, and reading scans"):
        load_bytes(junk, "junk.pdf", limits=Limits(max_ocr_pages=0))


def test_a_few_stray_letters_are_not_a_text_layer() -> None:
    with pytest.raises(UnreadableDocument, match=r"no readable text \(no text layer, and no page"):
        load_bytes(text_pdf([["p. 1"], ["p. 2"], ["p. 3"]]), "stamps.pdf")
