"""Follow-up questions read against the question before them."""

from __future__ import annotations

import pytest

from core.conversation.followups import is_follow_up, resolve


@pytest.mark.parametrize(
    "question",
    [
        "and how long should I do it?",
        "What about Russian?",
        "How about at night?",
        "Is it safe?",
        "А что насчёт русского?",
        "那中文呢？",
    ],
)
def test_follow_ups(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        "How do I remove the OCR text layer from a PDF?",
        "What is box breathing?",
        "Which sections survive termination of the license?",
    ],
)
def test_standalone_questions(question: str) -> None:
    assert not is_follow_up(question)


def test_a_follow_up_is_searched_with_the_previous_question() -> None:
    asked = resolve("What about Russian?", "Where is the Arabic file?")
    assert asked.query == "Where is the Arabic file? What about Russian?"
    assert asked.follows == "Where is the Arabic file?"
    assert asked.topic == "Where is the Arabic file?"  # later follow-ups read it too
    alone = resolve("What is XQuAD?", "Where is the Arabic file?")
    assert (alone.query, alone.follows, alone.topic) == ("What is XQuAD?", "", "What is XQuAD?")
    assert resolve("and then?", None).query == "and then?"
