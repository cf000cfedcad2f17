"""What a file really is decides how it is read: lying names, empty, junk, oversized, paths."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import pytest

from knowledge.documents import Limits, Progress
from knowledge.errors import DocumentTooLarge, UnreadableDocument, UnsupportedDocument
from knowledge.loaders import load_bytes, load_path
from tests.test_knowledge.loader_samples import DOCS, sample_docx, shared, text_pdf

LOREM = "Breathing slowly calms the nervous system and helps you fall asleep. " * 4


def test_the_shared_documents_folder_is_there() -> None:
    assert DOCS.is_dir(), f"the shared test documents are missing: {DOCS}"


def test_a_pdf_named_txt_is_read_as_a_pdf() -> None:
    document = load_bytes(shared("pdf_ja_two_column_cid_jo.pdf"), "poem.txt")
    assert document.mime_type == "application/pdf"
    assert document.pages == 1


def test_a_docx_named_pdf_is_read_as_a_docx() -> None:
    document = load_bytes(sample_docx(), "handbook.pdf", mime_type="application/pdf")
    assert document.mime_type.endswith("wordprocessingml.document")
    assert document.title == "Team Handbook"


def test_html_named_md_is_read_as_html() -> None:
    page = b"<!DOCTYPE html><html><body><h1>Hi</h1><p>There.</p><script>x()</script></body></html>"
    assert load_bytes(page, "page.md").mime_type == "text/html"


def test_markdown_with_html_inside_stays_markdown() -> None:
    markdown = b"<!-- licence -->\n<img src='logo.png'>\n\n# Calm Guide\n\nBody text.\n"
    document = load_bytes(markdown, "readme.md")
    assert document.mime_type == "text/markdown"
    assert document.title == "Calm Guide"


def test_a_pdf_after_some_leading_junk_is_still_a_pdf() -> None:
    document = load_bytes(b"\x00junk\n" + text_pdf([[LOREM]]), "odd.pdf")
    assert document.mime_type == "application/pdf"


def test_text_that_mentions_the_pdf_header_is_text() -> None:
    text = b"Every PDF file starts with %PDF-1.7 or a similar header line.\n"
    assert load_bytes(text, "notes.txt").mime_type == "text/plain"


def test_text_with_an_unknown_extension_is_plain_text() -> None:
    assert load_bytes(LOREM.encode(), "notes.log").mime_type == "text/plain"


def test_random_binary_named_pdf_is_refused() -> None:
    junk = random.Random(7).randbytes(4096)
    with pytest.raises(UnreadableDocument, match="named as a PDF file but its content is not one"):
        load_bytes(junk, "scan.pdf")


def test_binary_junk_is_unsupported() -> None:
    with pytest.raises(UnsupportedDocument, match="unrecognised binary files are not supported"):
        load_bytes(os.urandom(8192), "blob.bin")
    with pytest.raises(UnsupportedDocument, match="unrecognised binary"):
        load_bytes(bytes(range(32)) * 200, "notes.txt")


def test_an_image_with_a_text_extension_is_read_as_an_image() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)  # an image to OCR: this one is broken
    with pytest.raises(UnreadableDocument, match="the image is damaged"):
        load_bytes(png, "photo.md")


@pytest.mark.parametrize("data", [b"", b"   \n\t\n"])
def test_an_empty_file_is_refused(data: bytes) -> None:
    with pytest.raises(UnreadableDocument, match="the file is empty"):
        load_bytes(data, "empty.txt")


def test_an_oversized_document_is_refused() -> None:
    with pytest.raises(DocumentTooLarge, match="over the limit of 1 KB"):
        load_bytes(LOREM.encode() * 10, "long.txt", limits=Limits(max_bytes=1024))


async def test_load_path_reads_a_file_off_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "guide.pdf"
    path.write_bytes(text_pdf([[LOREM]], title="Sleep Guide"))
    loop_thread = threading.get_ident()
    seen: list[tuple[Progress, int]] = []
    document = await load_path(path, progress=lambda p: seen.append((p, threading.get_ident())))
    assert document.title == "Sleep Guide"
    assert document.source == "guide.pdf"
    assert [p.message for p, _ in seen] == ["Reading page 1 of 1…"]
    assert {thread for _, thread in seen} == {loop_thread}  # relayed to the loop's thread


async def test_load_path_checks_the_size_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(LOREM.encode() * 100)
    with pytest.raises(DocumentTooLarge, match=r"its size \(27 KB\) is over the limit of 4 KB"):
        await load_path(path, limits=Limits(max_bytes=4096))
    sparse = tmp_path / "huge.pdf"
    with sparse.open("wb") as handle:
        handle.truncate(64 * 1024**3)  # 64 GB on paper, nothing on disk: reading it would hang
    with pytest.raises(DocumentTooLarge, match=r"its size \(65536.0 MB\)"):
        await load_path(sparse)


async def test_load_path_says_when_there_is_no_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableDocument, match="there is no such file"):
        await load_path(tmp_path / "missing.md")
