"""Citations renumbered in order of first mention, on whole texts and on streamed deltas."""

from __future__ import annotations

import pytest

from core.generation.citations import Citations, cite
from knowledge.passages import Passage

PASSAGES = [Passage(text=f"passage {n}", title=f"Doc {n}", score=1.0 / n) for n in (1, 2, 3)]


def test_citations_are_renumbered_in_order_of_first_mention() -> None:
    text, sources = cite("Tea first [3]. Then water [1]. Tea again [3].", PASSAGES)
    assert text == "Tea first [1]. Then water [2]. Tea again [1]."
    assert [(s.number, s.title) for s in sources] == [(1, "Doc 3"), (2, "Doc 1")]


def test_citations_naming_no_passage_are_dropped_and_lists_split() -> None:
    text, sources = cite("One [9]. Two [2, 2, 1].", PASSAGES)
    assert text == "One. Two [1][2]."
    assert [s.title for s in sources] == ["Doc 2", "Doc 1"]


def test_an_uncited_answer_lists_every_passage() -> None:
    text, sources = cite("No citations here.", PASSAGES)
    assert text == "No citations here."
    assert [s.number for s in sources] == [1, 2, 3]


@pytest.mark.parametrize("cut", range(1, 40))
def test_streamed_deltas_match_the_whole_text_wherever_they_are_cut(cut: int) -> None:
    whole = "Breathe out [3]. Slowly [2, 3] and again [3]."
    citations = Citations(PASSAGES)
    shown = citations.feed(whole[:cut]) + citations.feed(whole[cut:]) + citations.finish()
    assert shown == cite(whole, PASSAGES)[0]


def test_a_cut_citation_is_held_until_it_is_complete() -> None:
    citations = Citations(PASSAGES)
    assert citations.feed("Water [") == "Water"
    assert citations.feed("2") == ""
    assert citations.feed("] hot.") == " [1] hot."
    assert [s.title for s in citations.sources] == ["Doc 2"]
