"""Sentence splitting for technical and multilingual text."""

from __future__ import annotations

import pytest

from knowledge.sentences import split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "Use a tool, e.g. ocrmypdf, on the scan. Dr. Smith wrote it.",
            ["Use a tool, e.g. ocrmypdf, on the scan.", "Dr. Smith wrote it."],
        ),
        (
            "It needs Python 3.11 and reads xquad.ar.json. Then it stops!",
            ["It needs Python 3.11 and reads xquad.ar.json.", "Then it stops!"],
        ),
        ("J. R. Barlow wrote it in 2016. It grew.", ["J. R. Barlow wrote it in 2016.", "It grew."]),
        (
            "5.1. HTTP/1 parser is in scope. It is old.",
            ["5.1. HTTP/1 parser is in scope.", "It is old."],
        ),
        (
            "北京是中国的首都。长城很长！你去过吗？好",
            ["北京是中国的首都。", "长城很长！", "你去过吗？", "好"],
        ),
        ("Как дела? Всё хорошо.", ["Как дела?", "Всё хорошо."]),
        ("هل هذا صحيح؟ نعم", ["هل هذا صحيح؟", "نعم"]),
        (
            "pypdfium2 is faster. pikepdf is used too.",
            ["pypdfium2 is faster.", "pikepdf is used too."],
        ),
        ("  wrapped\n  lines join  ", ["wrapped lines join"]),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences
