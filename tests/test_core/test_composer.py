"""The grounded composer: cited extractive answers and scripted personal content."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from bots.profile import BotProfile
from core.content import ContentType
from core.generation.composer import MAX_ANSWER_SENTENCES, GroundedComposer
from core.generation.seams import (
    Answer,
    AnswerRequest,
    ContentRequest,
    GeneratedContent,
    TextGenerator,
)
from knowledge.passages import Passage

BOT = BotProfile(id="calm-coach", name="Calm Coach")
ANSWERS: Mapping[str, Any] = {
    "purpose": "I'd like to sleep better",
    "time_of_day": "bedtime",
    "feeling": "restless",
    "duration": 10,
    "pace": "slow",
    "voice": "on",
}
MOMENTS = {
    "morning": "as the day begins",
    "midday": "in the middle of your day",
    "evening": "as the day winds down",
    "bedtime": "as you get ready for sleep",
    "anytime": "wherever you are right now",
}
PAUSE = re.compile(r"\(pause (\d+) seconds\)")
CITATION = re.compile(r"\[(\d+)\]")


@pytest.fixture
def composer() -> GroundedComposer:
    return GroundedComposer()


async def _compose(
    composer: GroundedComposer, content_type: ContentType, answers: Mapping[str, Any]
) -> GeneratedContent:
    return await composer.compose(
        ContentRequest(bot=BOT, content_type=content_type, answers=dict(answers))
    )


async def _answer(composer: GroundedComposer, question: str, passages: list[Passage]) -> Answer:
    return await composer.answer(AnswerRequest(bot=BOT, question=question, passages=passages))


def test_the_composer_is_a_text_generator(composer: GroundedComposer) -> None:
    generator: TextGenerator = composer
    assert generator is composer


# --- compose ---------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", list(ContentType), ids=str)
async def test_compose_reflects_the_answers(
    composer: GroundedComposer, content_type: ContentType
) -> None:
    content = await _compose(composer, content_type, ANSWERS)
    assert content.title.strip()
    assert content.text.strip()
    # the purpose, without the filler words, is in the title and the text
    assert "sleep better" in content.title
    assert "I'd like to" not in content.title
    assert "sleep better" in content.text
    assert "restless" in content.text
    assert "as you get ready for sleep" in content.text


@pytest.mark.parametrize("content_type", [ContentType.MEDITATION, ContentType.RITUAL], ids=str)
@pytest.mark.parametrize("minutes", [3, 5, 10, 15, 20])
async def test_the_title_and_text_give_the_duration(
    composer: GroundedComposer, content_type: ContentType, minutes: int
) -> None:
    content = await _compose(composer, content_type, {**ANSWERS, "duration": minutes})
    assert content.title.startswith(f"{minutes}-minute ")
    assert f"{minutes}-minute" in content.text


@pytest.mark.parametrize("content_type", list(ContentType), ids=str)
@pytest.mark.parametrize(("time_of_day", "phrase"), list(MOMENTS.items()))
async def test_the_time_of_day_phrase(
    composer: GroundedComposer, content_type: ContentType, time_of_day: str, phrase: str
) -> None:
    content = await _compose(composer, content_type, {**ANSWERS, "time_of_day": time_of_day})
    assert phrase in content.text
    others = [p for t, p in MOMENTS.items() if t != time_of_day]
    assert not any(other in content.text for other in others)


@pytest.mark.parametrize("content_type", list(ContentType), ids=str)
async def test_compose_with_no_answers_still_writes_something(
    composer: GroundedComposer, content_type: ContentType
) -> None:
    content = await _compose(composer, content_type, {})
    assert content.title.strip()
    assert content.text.strip()
    assert "wherever you are right now" in content.text


@pytest.mark.parametrize(
    ("purpose", "shown"),
    [
        ("to sleep better", "sleep better"),
        ("help me focus on my exams.", "focus on my exams"),
        ("I want to feel more confident!", "feel more confident"),
        ("less stress", "less stress"),
    ],
)
async def test_the_purpose_loses_its_filler_words(
    composer: GroundedComposer, purpose: str, shown: str
) -> None:
    content = await _compose(composer, ContentType.MEDITATION, {**ANSWERS, "purpose": purpose})
    assert content.title.endswith(f"· {shown}")
    assert f"Your intention: {shown}." in content.text


async def test_longer_durations_give_longer_meditations(composer: GroundedComposer) -> None:
    lengths = [
        len((await _compose(composer, ContentType.MEDITATION, {**ANSWERS, "duration": m})).text)
        for m in (3, 10, 20)
    ]
    assert lengths == sorted(lengths)
    assert len(set(lengths)) == len(lengths)


async def test_every_offered_duration_gives_a_different_meditation(
    composer: GroundedComposer,
) -> None:
    """BUG: the 3- and 5-minute meditations are the same script (only the number differs)."""
    scripts = {}
    for minutes in (3, 5, 10, 15, 20):
        content = await _compose(composer, ContentType.MEDITATION, {**ANSWERS, "duration": minutes})
        scripts[minutes] = content.text.replace(f"{minutes}-minute", "N-minute")
    assert len(set(scripts.values())) == len(scripts)


@pytest.mark.parametrize("minutes", [3, 5, 10, 15, 20])
async def test_a_meditation_roughly_fills_its_duration(
    composer: GroundedComposer, minutes: int
) -> None:
    """BUG: the script of an N-minute meditation lasts far less than N minutes.

    At a moderate pace, with speech at a generous 150 words a minute, a 20-minute
    meditation adds up to about 7 minutes; this asks for at least half the time.
    """
    content = await _compose(
        composer, ContentType.MEDITATION, {**ANSWERS, "pace": "moderate", "duration": minutes}
    )
    pauses = sum(int(s) for s in PAUSE.findall(content.text))
    spoken = len(PAUSE.sub("", content.text).split()) / 150 * 60
    assert pauses + spoken >= minutes * 60 / 2


async def test_a_slower_pace_gives_longer_pauses(composer: GroundedComposer) -> None:
    totals = {}
    for pace in ("lively", "moderate", "slow"):
        content = await _compose(composer, ContentType.MEDITATION, {**ANSWERS, "pace": pace})
        totals[pace] = sum(int(s) for s in PAUSE.findall(content.text))
    assert totals["lively"] < totals["moderate"] < totals["slow"]


async def test_longer_affirmations_say_more(composer: GroundedComposer) -> None:
    short = await _compose(composer, ContentType.AFFIRMATIONS, {**ANSWERS, "duration": 3})
    long = await _compose(composer, ContentType.AFFIRMATIONS, {**ANSWERS, "duration": 15})
    assert len(long.text) > len(short.text)
    assert "Round" not in short.text
    assert "Round 3:" in long.text


async def test_affirmations_follow_the_theme_of_the_purpose(composer: GroundedComposer) -> None:
    sleep = await _compose(composer, ContentType.AFFIRMATIONS, ANSWERS)
    focus = await _compose(
        composer, ContentType.AFFIRMATIONS, {**ANSWERS, "purpose": "focus at work"}
    )
    assert "My body knows how to rest." in sleep.text
    assert "My attention returns where I place it." in focus.text
    assert "My body knows how to rest." not in focus.text


@pytest.mark.parametrize("purpose", ["less stress", "more joy in my life"])
async def test_no_affirmation_repeats_within_a_round(
    composer: GroundedComposer, purpose: str
) -> None:
    """BUG: for a purpose with no theme the pool is the general list twice, so a
    10-minute set says each of the five general affirmations twice in every round."""
    content = await _compose(
        composer, ContentType.AFFIRMATIONS, {**ANSWERS, "purpose": purpose, "duration": 10}
    )
    rounds = re.split(r"^Round \d+:$", content.text, flags=re.MULTILINE)[1:]
    assert len(rounds) == 2
    for body in rounds:
        said = [
            line
            for line in body.splitlines()
            if line and not PAUSE.fullmatch(line) and not line.startswith("Finish")
        ]
        assert len(said) == len(set(said)), said


@pytest.mark.parametrize("minutes", [10, 15])
async def test_ritual_steps_add_up_to_the_duration(
    composer: GroundedComposer, minutes: int
) -> None:
    content = await _compose(composer, ContentType.RITUAL, {**ANSWERS, "duration": minutes})
    steps = re.findall(r"^\d\. \w+ \(about ([\d.]+) min\)", content.text, flags=re.MULTILINE)
    assert len(steps) == 6
    assert sum(float(s) for s in steps) == pytest.approx(minutes)
    assert '"Sleep better."' in content.text


# --- answer ----------------------------------------------------------------------------------

STUDIO = Passage(
    text=(
        "The studio opens at nine every morning. "
        "Box breathing means breathing in for four counts and out for four counts. "
        "Parking is free on weekends."
    ),
    title="Studio guide",
    score=0.9,
    document_id="doc-1",
    page=3,
)
CAFE = Passage(
    text="Our cafe sells green tea. Slow breathing lowers the heart rate before sleep.",
    title="FAQ",
    score=0.5,
    url="https://example.com/faq",
)
SCHEDULE = Passage(
    text="Yoga classes run on Tuesdays. Meditation classes run on Thursdays.",
    title="Timetable",
    score=0.4,
    section="Classes",
)


def _cited(answer: Answer) -> list[int]:
    return [int(n) for n in CITATION.findall(answer.text)]


async def test_answer_with_no_passages_is_empty(composer: GroundedComposer) -> None:
    answer = await _answer(composer, "What is box breathing?", [])
    assert answer.text == ""
    assert answer.sources == ()


async def test_answer_quotes_the_matching_sentence_with_its_citation(
    composer: GroundedComposer,
) -> None:
    answer = await _answer(composer, "What is box breathing?", [STUDIO])
    assert (
        "Box breathing means breathing in for four counts and out for four counts. [1]"
        in answer.text
    )
    assert len(answer.sources) == 1
    source = answer.sources[0]
    assert source.number == 1
    assert source.title == "Studio guide"
    assert source.document_id == "doc-1"
    assert source.page == 3
    assert source.excerpt == STUDIO.text[:200]


async def test_answer_citations_match_the_sources(composer: GroundedComposer) -> None:
    answer = await _answer(composer, "How does breathing help sleep?", [STUDIO, CAFE, SCHEDULE])
    cited = _cited(answer)
    assert cited
    assert len(CITATION.findall(answer.text)) <= MAX_ANSWER_SENTENCES
    numbers = [s.number for s in answer.sources]
    assert set(cited) == set(numbers)
    assert numbers == list(range(1, len(numbers) + 1))
    # numbered in the order they are first cited
    assert sorted(set(cited), key=cited.index) == numbers
    by_number = {s.number: s for s in answer.sources}
    for sentence, number in re.findall(r"(.+?) \[(\d+)\]\s*", answer.text):
        assert sentence.strip() in by_number[int(number)].excerpt


async def test_answer_numbers_sources_in_reading_order(
    composer: GroundedComposer,
) -> None:
    answer = await _answer(composer, "slow breathing and meditation classes", [CAFE, SCHEDULE])
    # "Yoga classes run on Tuesdays" matches one word of four: not close enough to quote
    assert answer.text == (
        "Slow breathing lowers the heart rate before sleep. [1] "
        "Meditation classes run on Thursdays. [2]"
    )
    assert [(s.number, s.title, s.url, s.section) for s in answer.sources] == [
        (1, "FAQ", "https://example.com/faq", None),
        (2, "Timetable", None, "Classes"),
    ]


async def test_answer_picks_the_matching_sentence_from_a_lower_ranked_passage(
    composer: GroundedComposer,
) -> None:
    answer = await _answer(
        composer, "What does slow breathing do to the heart rate?", [STUDIO, CAFE]
    )
    cafe = next(s for s in answer.sources if s.title == "FAQ")
    assert f"Slow breathing lowers the heart rate before sleep. [{cafe.number}]" in answer.text
    assert "Our cafe sells green tea" not in answer.text


async def test_answer_leaves_out_sentences_that_share_nothing_with_the_question(
    composer: GroundedComposer,
) -> None:
    """BUG: when fewer than three sentences match, the top three are padded with sentences
    that share no word with the question ("The studio opens at nine", "Our cafe sells
    green tea"), and their passages are cited as sources."""
    answer = await _answer(composer, "What is box breathing?", [STUDIO, CAFE])
    assert "The studio opens" not in answer.text
    assert "Parking" not in answer.text
    assert "green tea" not in answer.text


async def test_answer_with_nothing_matching_quotes_one_sentence(
    composer: GroundedComposer,
) -> None:
    answer = await _answer(composer, "zzz qqq", [STUDIO, CAFE])
    assert _cited(answer) == [1]
    assert len(answer.sources) == 1
    assert answer.sources[0].title == "Studio guide"


async def test_answer_never_quotes_more_than_the_limit(composer: GroundedComposer) -> None:
    text = " ".join(f"Breathing tip number {n} is useful." for n in range(10))
    passage = Passage(text=text, title="Tips", score=1.0)
    answer = await _answer(composer, "breathing tip number 3 and 7 useful", [passage])
    assert len(_cited(answer)) <= MAX_ANSWER_SENTENCES
    assert "Breathing tip number 3 is useful. [1]" in answer.text
    assert "Breathing tip number 7 is useful. [1]" in answer.text


async def test_answer_does_not_repeat_what_is_already_said(composer: GroundedComposer) -> None:
    text = " ".join(f"Breathing tip number {n} is useful." for n in range(10))
    answer = await _answer(composer, "breathing tip", [Passage(text=text, title="T", score=1)])
    assert _cited(answer) == [1]
