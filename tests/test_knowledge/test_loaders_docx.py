"""The DOCX loader on the shared real files, a generated one, zip bombs and broken ZIPs."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from knowledge.documents import Block, BlockKind, Limits
from knowledge.errors import DocumentTooLarge, UnreadableDocument, UnsupportedDocument
from knowledge.loaders import load_bytes
from tests.test_knowledge.loader_samples import (
    sample_docx,
    shared,
    shared_names,
    zip_with_extra_member,
)

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
EMPTY = "docx_tbl-having-tables.docx"  # three tables whose every cell is empty


@pytest.mark.parametrize("name", [n for n in shared_names("docx_*.docx") if n != EMPTY])
def test_every_shared_docx_is_read(name: str) -> None:
    document = load_bytes(shared(name), name)
    assert document.mime_type == DOCX_MIME
    assert document.blocks
    assert all(block.text.strip() for block in document.blocks)
    assert document.source == name


def test_a_docx_with_only_empty_tables_has_no_text() -> None:
    with pytest.raises(UnreadableDocument, match="contains no text"):
        load_bytes(shared(EMPTY), EMPTY)


def test_heading_styles_give_heading_blocks_and_the_title() -> None:
    document = load_bytes(shared("docx_par-known-paragraphs.docx"), "known.docx")
    assert document.blocks == (
        Block(BlockKind.HEADING, "Heading Paragraph", level=1),
        Block(BlockKind.PARAGRAPH, "Normal paragraph"),
    )
    assert document.title == "Heading Paragraph"


def test_tables_and_paragraphs_keep_their_order_and_nested_tables_their_text() -> None:
    document = load_bytes(shared("docx_blk-paras-and-tables.docx"), "blk.docx")
    body = [(block.kind, block.text) for block in document.blocks]
    assert body == [
        (BlockKind.PARAGRAPH, "Left-side | Right-side"),  # the header, a table
        (BlockKind.PARAGRAPH, "Lorem ipsum dolor sit amet, consectetur adipiscing elit."),
        (BlockKind.TABLE, "Text before Table; Between Text after"),
        (BlockKind.PARAGRAPH, "Donec semper facilisis metus finibus malesuada."),
        (BlockKind.PARAGRAPH, "Copyright | Page-number"),  # the footer
    ]
    assert document.title == "blk"


def test_a_header_shared_by_two_sections_is_read_once() -> None:
    document = load_bytes(shared("docx_hdr-header-footer.docx"), "hdr.docx")
    texts = [block.text for block in document.blocks]
    assert texts.count("Header for section-1") == 1
    assert texts.count("Footer for section 1") == 1
    assert "section without header of its own." in texts


def test_hyperlink_text_is_part_of_the_paragraph() -> None:
    document = load_bytes(shared("docx_par-hyperlinks.docx"), "links.docx")
    assert document.blocks[2].text == (
        "Three hyperlinks: the first one here, the second one, and the third."
    )


def test_a_generated_docx_gives_headings_lists_and_a_table_without_duplicates() -> None:
    document = load_bytes(sample_docx(), "handbook.docx")
    assert document.title == "Team Handbook"
    assert [(b.kind, b.text, b.level) for b in document.blocks] == [
        (BlockKind.PARAGRAPH, "ACME Corp — internal", 0),
        (BlockKind.HEADING, "Team Handbook", 1),
        (BlockKind.HEADING, "Getting started", 1),
        (BlockKind.PARAGRAPH, "Welcome aboard. Please read this first.", 0),
        (BlockKind.LIST_ITEM, "Bring your badge", 0),
        (BlockKind.LIST_ITEM, "Meet your buddy", 0),
        (BlockKind.HEADING, "Office hours", 2),
        # the merged header cell once; the vertically merged "17" only in its first row
        (BlockKind.TABLE, "Day | Hours\nMon | 9 | 17\nTue | 9", 0),
        (BlockKind.PARAGRAPH, "The second section has the same header.", 0),
        (BlockKind.PARAGRAPH, "Confidential", 0),
    ]


def test_text_inside_a_content_control_is_read() -> None:
    document = docx.Document(io.BytesIO(sample_docx()))
    control = parse_xml(
        f"<w:sdt {nsdecls('w')}><w:sdtContent><w:p><w:r><w:t>Inside a content control</w:t>"
        "</w:r></w:p></w:sdtContent></w:sdt>"
    )
    document.element.body.insert(0, control)
    buffer = io.BytesIO()
    document.save(buffer)
    loaded = load_bytes(buffer.getvalue(), "sdt.docx")
    assert Block(BlockKind.PARAGRAPH, "Inside a content control") in loaded.blocks


def test_a_zip_bomb_is_refused_from_its_directory() -> None:
    bomb = zip_with_extra_member(sample_docx(), "word/media/padding.bin", 16 * 1024 * 1024)
    assert len(bomb) < 200_000
    with pytest.raises(DocumentTooLarge, match=r"compression ratio of word/media/padding\.bin"):
        load_bytes(bomb, "bomb.docx")


def test_too_much_unpacked_content_is_refused() -> None:
    with pytest.raises(DocumentTooLarge, match="unpacked content"):
        load_bytes(sample_docx(), "handbook.docx", limits=Limits(max_unzipped_bytes=20_000))


def test_a_docx_that_is_not_a_zip_is_refused() -> None:
    legacy_word = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096)
    with pytest.raises(UnsupportedDocument, match="legacy Microsoft Office"):
        load_bytes(legacy_word, "report.docx")
    junk = bytes(range(256)) * 16
    with pytest.raises(UnreadableDocument, match="named as a DOCX file but its content is not one"):
        load_bytes(junk, "report.docx")


def test_a_truncated_docx_is_a_damaged_zip() -> None:
    whole = sample_docx()
    with pytest.raises(UnreadableDocument, match="damaged"):
        load_bytes(whole[: len(whole) // 2], "cut.docx")


def test_a_zip_without_a_word_document_is_not_a_docx() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UnsupportedDocument, match="Excel spreadsheet"):
        load_bytes(buffer.getvalue(), "sheet.docx")
