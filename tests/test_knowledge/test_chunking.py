"""Chunking follows structure, keeps provenance and gives stable ids."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from knowledge.chunking import StructuredChunker
from knowledge.documents import Block, BlockKind, LoadedDocument
from knowledge.loaders import load_bytes

DOCS = Path(__file__).resolve().parents[3] / "shared" / "data" / "docs"


def doc(*blocks: Block, title: str = "Guide") -> LoadedDocument:
    return LoadedDocument(title=title, source="guide.md", mime_type="text/markdown", blocks=blocks)


def heading(text: str, level: int = 1) -> Block:
    return Block(BlockKind.HEADING, text, level=level)


def para(text: str, page: int | None = None) -> Block:
    return Block(BlockKind.PARAGRAPH, text, page=page)


def test_chunks_never_cross_headings_and_carry_the_heading_path() -> None:
    chunks = StructuredChunker(target_chars=500, overlap_chars=50).split(
        doc(
            heading("Guide"),
            heading("Breathing", 2),
            para("Box breathing has four sides."),
            heading("Sleep", 2),
            heading("Before bed", 3),
            para("Breathe out longer than in."),
            heading("Mornings", 2),
            para("Start the day slowly."),
        ),
        "doc1",
    )
    assert [c.text for c in chunks] == [
        "Box breathing has four sides.",
        "Breathe out longer than in.",
        "Start the day slowly.",
    ]
    assert [c.heading_path for c in chunks] == [
        ("Guide", "Breathing"),
        ("Guide", "Sleep", "Before bed"),
        ("Guide", "Mornings"),
    ]
    assert chunks[1].section == "Guide › Sleep › Before bed"
    assert chunks[1].indexed_text() == "Guide › Sleep › Before bed\nBreathe out longer than in."
    assert [c.position for c in chunks] == [0, 1, 2]


def test_paragraphs_are_packed_to_the_target_with_overlap() -> None:
    sentences = [f"Sentence number {n} says something useful about calm." for n in range(40)]
    paragraphs = [para(" ".join(sentences[i : i + 4])) for i in range(0, 40, 4)]
    chunks = StructuredChunker(target_chars=600, overlap_chars=120).split(doc(*paragraphs), "d")
    assert len(chunks) > 2
    assert all(len(c.text) <= 600 + 120 for c in chunks)
    for previous, current in itertools.pairwise(chunks):
        last_sentence = previous.text.rsplit(". ", 1)[-1].rstrip(".")
        assert last_sentence in current.text  # the overlap repeats the end of the previous
    covered = " ".join(c.text for c in chunks)
    assert all(s in covered for s in sentences)


def test_a_long_paragraph_is_split_at_sentences_and_a_long_word_anywhere() -> None:
    text = " ".join(f"This is sentence {n} of a very long paragraph." for n in range(60))
    chunks = StructuredChunker(target_chars=300, overlap_chars=0).split(doc(para(text)), "d")
    assert all(len(c.text) <= 300 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)
    unbroken = "x" * 1000
    pieces = StructuredChunker(target_chars=300, overlap_chars=0).split(doc(para(unbroken)), "d")
    assert "".join(c.text for c in pieces) == unbroken


def test_big_tables_repeat_their_header_row() -> None:
    rows = ["Name | Minutes | Pace"] + [f"Practice {n} | {n} | slow" for n in range(80)]
    table = Block(BlockKind.TABLE, "\n".join(rows))
    chunks = StructuredChunker(target_chars=300, overlap_chars=0).split(doc(table), "d")
    assert len(chunks) > 3
    assert all(c.text.startswith("Name | Minutes | Pace\n") for c in chunks)
    body = [line for c in chunks for line in c.text.split("\n")[1:]]
    assert body == rows[1:]


def test_pages_and_offsets_are_kept() -> None:
    chunks = StructuredChunker(target_chars=100, overlap_chars=0).split(
        doc(
            para("First page text that is long enough to fill most of a small chunk.", page=1),
            para("Second page text, also quite long indeed, so it needs its own chunk.", page=2),
        ),
        "d",
    )
    assert [c.page for c in chunks] == [1, 2]
    full = (
        "First page text that is long enough to fill most of a small chunk.\n\n"
        "Second page text, also quite long indeed, so it needs its own chunk."
    )
    assert [full[c.start : c.end] for c in chunks] == [c.text for c in chunks]


def test_ids_are_stable_and_depend_on_document_and_text() -> None:
    document = doc(heading("A"), para("One."), heading("B"), para("Two."))
    first = StructuredChunker().split(document, "doc-1")
    again = StructuredChunker().split(document, "doc-1")
    other = StructuredChunker().split(document, "doc-2")
    assert [c.id for c in first] == [c.id for c in again]
    assert {c.id for c in first}.isdisjoint(c.id for c in other)
    assert len({c.id for c in first}) == len(first)


def test_real_documents_chunk_within_bounds() -> None:
    chunker = StructuredChunker(target_chars=900, overlap_chars=150)
    for name in (
        "md_aiohttp_threat_model.md",
        "md_zh_ocrmypdf_readme.md",
        "html_aiohttp_websocket_example.html",
        "docx_blk-paras-and-tables.docx",
    ):
        loaded = load_bytes((DOCS / name).read_bytes(), name)
        chunks = chunker.split(loaded, name)
        assert chunks, name
        assert all(c.text.strip() for c in chunks)
        assert max(len(c.text) for c in chunks) <= 900 + 150 + 2, name


@pytest.mark.parametrize(("target", "overlap"), [(50, 0), (500, 300), (500, -1)])
def test_bad_parameters_are_refused(target: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        StructuredChunker(target_chars=target, overlap_chars=overlap)


def test_code_lists_and_tables_keep_their_form_in_the_text() -> None:
    chunks = StructuredChunker().split(
        doc(
            para("To strip the text layer, use the strip mode:"),
            Block(BlockKind.CODE, "ocrmypdf --mode strip in.pdf out.pdf\n# done"),
            para("The files are:"),
            Block(BlockKind.LIST_ITEM, "Arabic: xquad.ar.json"),
            Block(BlockKind.LIST_ITEM, "Russian: xquad.ru.json"),
        ),
        "d",
    )
    assert chunks[0].text == (
        "To strip the text layer, use the strip mode:\n\n"
        "```\nocrmypdf --mode strip in.pdf out.pdf\n# done\n```\n\n"
        "The files are:\n\n- Arabic: xquad.ar.json\n\n- Russian: xquad.ru.json"
    )


def test_a_lead_in_stays_with_what_it_introduces() -> None:
    filler = [para(f"Filler sentence number {n} is here to take up room.") for n in range(7)]
    code = Block(BlockKind.CODE, "\n".join(f"command --option {n}" for n in range(6)))
    chunks = StructuredChunker(target_chars=500, overlap_chars=100).split(
        doc(*filler, para("Run these commands:"), code), "d"
    )
    holding = [c for c in chunks if "Run these commands:" in c.text]
    assert len(holding) == 1
    assert "command --option 0" in holding[0].text
    # the overlap repeats prose only, never the middle of a block
    assert all(not c.text.startswith("command") for c in chunks)


def test_plain_text_items_after_a_lead_in_become_a_list() -> None:
    chunks = StructuredChunker().split(
        doc(
            para("Where Your right has terminated, it reinstates:"),
            para("automatically as of the date the violation is cured; or"),
            para("upon express reinstatement by the Licensor."),
            para("For the avoidance of doubt, nothing else changes."),
        ),
        "d",
    )
    assert chunks[0].text == (
        "Where Your right has terminated, it reinstates:\n\n"
        "- automatically as of the date the violation is cured; or\n\n"
        "- upon express reinstatement by the Licensor.\n\n"
        "For the avoidance of doubt, nothing else changes."
    )
