"""What the composer may quote from a passage, and what kind of answer a question wants."""

from __future__ import annotations

import pytest

from core.generation.fragments import broken_fragments
from core.generation.questions import Wants, question_kind
from core.generation.spans import BlockType, Span, passage_blocks, passage_spans, trimmed

COOKBOOK = (
    "To remove the invisible OCR text layer, use --mode strip:\n\n"
    "```\nocrmypdf --mode strip input.pdf output.pdf\n```\n\n"
    "Why would you want to do this? Perhaps OCR failed to produce useful results.\n\n"
    "```\n# a comment\n>>> check = (\n...     1\n... )\n```"
)


def test_blocks_keep_code_lists_and_tables() -> None:
    text = "Lead:\n\n- one\n\n- two\n\n```\na = 1\n\nb = 2\n```\n\nA | B\n1 | 2"
    blocks = passage_blocks(text)
    assert [b.type for b in blocks] == [
        BlockType.PROSE,
        BlockType.LIST,
        BlockType.CODE,
        BlockType.TABLE,
    ]
    assert blocks[1].lines == ("one", "two")
    assert blocks[2].lines == ("a = 1", "", "b = 2")  # a blank line inside a fence


def test_a_lead_in_comes_with_its_command_and_code_never_alone() -> None:
    spans = passage_spans(0, COOKBOOK)
    texts = [s.text for s in spans]
    assert texts[0] == (
        "To remove the invisible OCR text layer, use --mode strip:\n"
        "    ocrmypdf --mode strip input.pdf output.pdf"
    )
    # the question the text asks itself comes with its answer
    assert (
        texts[1] == "Why would you want to do this? Perhaps OCR failed to produce useful results."
    )
    assert len(spans) == 2  # the commented REPL block has no lead-in and no heading
    assert all(broken_fragments(f"{t} [1]") == [] for t in texts)


def test_a_block_without_a_lead_in_is_introduced_by_its_heading() -> None:
    spans = passage_spans(0, "```\nocrmypdf --deskew in.pdf out.pdf\n```", section="5.1. Deskew")
    assert [s.text for s in spans] == ["Deskew:\n    ocrmypdf --deskew in.pdf out.pdf"]


def test_a_colon_with_nothing_after_it_is_never_quoted() -> None:
    spans = passage_spans(0, "Good sentence here, all of it. Then use the following:")
    assert [s.text for s in spans] == ["Good sentence here, all of it."]


def test_headings_titles_and_labels_are_not_sentences() -> None:
    text = "Cookbook\n\nSection 6 – Term and Termination.\n\nArabic: xquad.ar.json"
    assert passage_spans(0, text, title="Cookbook") == []


def test_a_long_list_is_cut_to_the_items_asked_about_with_its_lead_in() -> None:
    items = tuple(f"- Language {n}: file{n}.json" for n in range(12))
    span = Span(0, 0, "Files:", items, BlockType.LIST)
    assert trimmed(span, {3}).text == "Files:\n- Language 3: file3.json"
    short = Span(0, 0, "Files:", items[:3], BlockType.LIST)
    assert trimmed(short, {1}) == short  # a short list comes whole


@pytest.mark.parametrize(
    ("question", "wants"),
    [
        ("How should I breathe when I feel anxious?", Wants.INSTRUCTION),
        ("What is XQuAD?", Wants.DEFINITION),
        ("What are listeners used for?", Wants.REASON),
        ("Why would I strip the OCR layer?", Wants.REASON),
        ("How many paragraphs are there?", Wants.NUMBER),
        ("How long does the license apply?", Wants.TIME),
        ("When was it released?", Wants.TIME),
        ("Who wrote it?", Wants.NAME),
        ("What is the file name of the Arabic data?", Wants.NAME),
        ("Where is the config?", Wants.PLACE),
        ("OCRmyPDF 支持多少种语言？", Wants.NUMBER),
        ("Почему это важно?", Wants.REASON),
        ("Tell me about guards", Wants.ANY),
    ],
)
def test_question_kinds(question: str, wants: Wants) -> None:
    assert question_kind(question).wants is wants
