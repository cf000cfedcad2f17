"""The broken-fragment detector the composer, the answer tests and the benchmark share."""

from __future__ import annotations

import pytest

from core.generation.fragments import broken_fragments, sentence_problem


@pytest.mark.parametrize(
    "answer",
    [
        # the sentence cut on its colon, the command it introduces left behind
        "To remove the invisible OCR text layer, use --mode strip: [1]",
        # a code comment and a REPL prompt quoted as prose
        "# The first whose guard passes wins. [1]",
        ">>> from statemachine import StateChart [2]",
        # a dangling bracket
        "check = ( [2]",
        # a list cut to its first item, and a title given as a sentence
        "Arabic: xquad.ar.json [1]",
        "Remove the OCR text layer from my PDF [1]",
        # the rest of a sentence whose start is elsewhere
        "upon express reinstatement by the Licensor. [2]",
        # a block with nothing introducing it
        "    ocrmypdf --deskew input.pdf output.pdf [1]",
        # a heading of a plain-text document, and a hole where a link was
        "Section 6 – Term and Termination. [1]",
        "See for the full list of listener callbacks. [1]",
    ],
)
def test_broken_answers_are_found(answer: str) -> None:
    assert broken_fragments(answer), answer


@pytest.mark.parametrize(
    "answer",
    [
        "Box breathing means breathing in for four counts and out for four. [1]",
        "To remove the text layer, use --mode strip:\n    ocrmypdf --mode strip in.pdf out.pdf [1]",
        "Where Your right has terminated, it reinstates:\n"
        "- automatically, provided it is cured within 30 days; or\n"
        "- upon express reinstatement by the Licensor. [1] Sections 1 and 5 survive. [2]",
        "The naming conventions are:\nPattern | When it runs\non_enter_<state>() | On entry [1]",
        "pypdfium2 is generally faster and is preferred when available. [1]",
        "OCRmyPDF 会为扫描版 PDF 文件添加 OCR 文本层。 [1]",
        "Use e.g. Python 3.11 (or later) to read xquad.ar.json. [1]",
    ],
)
def test_whole_answers_pass(answer: str) -> None:
    assert broken_fragments(answer) == []


def test_a_colon_is_fine_only_before_a_block() -> None:
    assert sentence_problem("Run this:") == "cut at its colon"
    assert sentence_problem("Run this:", introduces=True) is None
