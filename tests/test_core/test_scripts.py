"""Scripted content from the practice library: timing, wording, themes and variety.

The timing checks run on the audio plan the composer hands to the voice, read with the
speech engine's own parser and pause fitting, at the pace's speaking rate and at a rate
20 % faster (espeak-ng speaks faster than its nominal rate), and once on audio that
espeak-ng really speaks.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np
import pytest

from bots.profile import BotProfile
from core.content import ContentType
from core.generation.composer import GroundedComposer
from core.generation.practices.affirmations import AFFIRMATIONS
from core.generation.practices.rituals import STEPS
from core.generation.practices.techniques import TECHNIQUES
from core.generation.practices.themes import THEMES, occasion, themes_of
from core.generation.scripts import write_script
from core.generation.seams import ContentRequest, GeneratedContent
from core.messages import AudioFormat
from core.voice.audio import decode
from core.voice.speech import MIN_PAUSE_SECONDS, EspeakSpeaker, Pause, fit_pauses, parse_script
from core.voice.voice_io import PACE_SPEEDS, SPEEDS, voice_settings

BOT = BotProfile(id="calm-coach", name="Calm Coach")
INTERVIEW = "I have a job interview tomorrow and my mind keeps racing"
PURPOSES = (
    INTERVIEW,
    "self-confidence before public speaking",
    "I'd like to sleep better",
    "help me focus on my exams",
    "grieving my dad and trying to cope",
    "more joy in my life",
)
WAKING = ("open your eyes", "awake", "wake", "energ", "alert", "get up", "stand up")
STAGE_DIRECTION = re.compile(r"\(\s*pause|\[\s*pause|\bpause \d|~\d|\(\d+ ?s", re.IGNORECASE)
PAUSE_LINE = re.compile(r"^\(pause [\d.]+ seconds\)$")
#: lines a technique says again on purpose: its rounds, and the way back into them
CYCLES = {cue.text for t in TECHNIQUES for cue in t.cycle}


def compose(
    content_type: ContentType, answers: Mapping[str, Any], variation: str = ""
) -> GeneratedContent:
    """What the grounded composer writes for these answers (it calls this directly)."""
    return write_script(ContentRequest(BOT, content_type, dict(answers), variation=variation))


def answers(**changes: Any) -> dict[str, Any]:
    base = {
        "purpose": INTERVIEW,
        "time_of_day": "bedtime",
        "feeling": "restless",
        "duration": 10,
        "pace": "slow",
    }
    return {**base, **changes}


def spoken_lines(content: GeneratedContent) -> list[str]:
    return [line for line in content.spoken.splitlines() if not PAUSE_LINE.match(line)]


def timing(
    content: GeneratedContent, words_per_minute: float, target: float
) -> tuple[float, list[float]]:
    """Speech seconds and the silences once the speech engine fits the plan's pauses to
    ``target``, with speech at ``words_per_minute``."""
    items = parse_script(content.spoken)
    words = sum(len(item.split()) for item in items if isinstance(item, str))
    speech = words / words_per_minute * 60
    nominal = [item.seconds for item in items if isinstance(item, Pause)]
    return speech, fit_pauses(nominal, target - speech, MIN_PAUSE_SECONDS)


CASES = list(
    itertools.product(
        list(ContentType), (3, 10, 20), ("bedtime", "morning", "midday"), ("slow", "lively")
    )
)


@pytest.mark.parametrize(("content_type", "minutes", "time_of_day", "pace"), CASES, ids=str)
def test_the_plan_fills_its_length_with_guidance(
    content_type: ContentType, minutes: int, time_of_day: str, pace: str
) -> None:
    content = compose(content_type, answers(duration=minutes, time_of_day=time_of_day, pace=pace))
    target = minutes * 60
    items = parse_script(content.spoken)
    rate = PACE_SPEEDS[pace]
    words = sum(len(item.split()) for item in items if isinstance(item, str))
    planned = words / rate * 60 + sum(i.seconds for i in items if isinstance(i, Pause))
    assert abs(planned - target) <= 0.1 * target, planned
    # as the voice renders it, at the pace's rate and at a faster one
    for words_per_minute in (rate, rate * 1.2):
        speech, pauses = timing(content, words_per_minute, target)
        total = speech + sum(pauses)
        assert abs(total - target) <= 0.1 * target, total
        assert speech / total >= 0.4, (words_per_minute, speech / total)
        assert max(pauses) <= 45, max(pauses)


@pytest.mark.parametrize("content_type", list(ContentType), ids=str)
@pytest.mark.parametrize("words_per_minute", [SPEEDS["slow"], SPEEDS["fast"]])
def test_the_plan_is_timed_for_the_users_own_speaking_speed(
    content_type: ContentType, words_per_minute: int
) -> None:
    """A user who set /voice speed fast is spoken to faster than a slow pace: the plan
    holds more words, so the fill and the silences still hold."""
    request = ContentRequest(
        BOT, content_type, answers(pace="slow"), words_per_minute=words_per_minute
    )
    content = write_script(request)
    for rate in (words_per_minute, words_per_minute * 1.2):
        speech, pauses = timing(content, rate, 600)
        assert abs(speech + sum(pauses) - 600) <= 60
        assert speech / (speech + sum(pauses)) >= 0.4
        assert max(pauses) <= 45


@pytest.mark.parametrize("purpose", ["", "grief", "more joy in my life"])
@pytest.mark.parametrize("minutes", [15, 17, 20])
@pytest.mark.parametrize("pace", ["moderate", "lively"])
def test_a_long_set_of_affirmations_without_a_clear_theme_still_fills(
    purpose: str, minutes: int, pace: str
) -> None:
    """BUG: a 20-minute set for a purpose with few related themes ran out of lines and
    fell to a third speech."""
    content = compose(
        ContentType.AFFIRMATIONS,
        answers(purpose=purpose, time_of_day="anytime", duration=minutes, pace=pace),
    )
    for rate in (PACE_SPEEDS[pace], PACE_SPEEDS[pace] * 1.2):
        speech, pauses = timing(content, rate, minutes * 60)
        assert speech / (speech + sum(pauses)) >= 0.4
        assert max(pauses) <= 45


def test_a_lively_pace_talks_more_than_a_slow_one() -> None:
    fills = {}
    for pace in ("slow", "lively"):
        content = compose(ContentType.MEDITATION, answers(pace=pace, duration=20))
        speech, pauses = timing(content, PACE_SPEEDS[pace], 1200)
        fills[pace] = speech / (speech + sum(pauses))
    assert fills["lively"] > fills["slow"] + 0.03, fills


@pytest.mark.parametrize("content_type", list(ContentType), ids=str)
@pytest.mark.parametrize("purpose", PURPOSES)
def test_the_text_is_clean_prose_that_never_pastes_the_purpose(
    content_type: ContentType, purpose: str
) -> None:
    content = compose(content_type, answers(purpose=purpose, time_of_day="anytime"))
    assert not STAGE_DIRECTION.search(content.text), STAGE_DIRECTION.search(content.text)
    assert "Your intention" not in content.text
    # no run of four of the user's words comes back, in the text or the title
    said = " ".join(re.findall(r"[a-z']+", f"{content.title} {content.text}".lower()))
    words = re.findall(r"[a-z']+", purpose.lower())
    for run in zip(words, words[1:], words[2:], words[3:], strict=False):
        assert " ".join(run) not in said, run


def test_a_racing_mind_before_an_interview_is_spoken_of_in_the_pieces_own_words() -> None:
    content = compose(ContentType.MEDITATION, answers())
    assert "as you prepare for tomorrow's interview" in content.text
    assert content.title == "10-minute meditation · steady for tomorrow's interview"
    affirmations = compose(ContentType.AFFIRMATIONS, answers(duration=10))
    said = set(spoken_lines(affirmations))
    assert len(said & set(AFFIRMATIONS["interview"])) >= 6
    assert said & set(AFFIRMATIONS["calm"])  # the racing mind


def test_public_speaking_affirmations_are_about_speaking() -> None:
    content = compose(
        ContentType.AFFIRMATIONS,
        answers(
            purpose="self-confidence before public speaking", duration=10, time_of_day="morning"
        ),
    )
    said = spoken_lines(content)
    own = set(AFFIRMATIONS["public_speaking"]) | set(AFFIRMATIONS["confidence"])
    affirmations = {line for line in said if line in {a for v in AFFIRMATIONS.values() for a in v}}
    assert len(affirmations) >= 20, len(affirmations)
    assert len(affirmations & own) >= 15
    assert len(affirmations & own) > len(affirmations) / 2
    assert any("in front of people" in line or "audience" in line for line in affirmations)


@pytest.mark.parametrize("content_type", list(ContentType), ids=str)
@pytest.mark.parametrize("minutes", [3, 10, 20])
@pytest.mark.parametrize("purpose", PURPOSES[:4])
def test_bedtime_pieces_never_wake_the_listener(
    content_type: ContentType, minutes: int, purpose: str
) -> None:
    content = compose(content_type, answers(duration=minutes, purpose=purpose))
    lowered = content.spoken.lower()
    assert not [word for word in WAKING if word in lowered]
    ending = " ".join(spoken_lines(content)[-4:]).lower()
    assert "sleep" in ending or "night" in ending  # it ends going to sleep


@pytest.mark.parametrize("content_type", [ContentType.MEDITATION, ContentType.RITUAL], ids=str)
def test_morning_pieces_end_with_energy(content_type: ContentType) -> None:
    content = compose(content_type, answers(time_of_day="morning"))
    ending = spoken_lines(content)[-4:]
    assert any("energy" in line for line in ending), ending


@pytest.mark.parametrize(
    ("feeling", "helps"),
    [
        ("anxious", {"four-seven-eight", "box-breathing", "thought-stream"}),
        ("low", {"loving-kindness", "heart-breath", "gratitude", "peaceful-place"}),
        ("restless", {"muscle-relaxation", "breath-counting", "body-scan"}),
    ],
)
def test_the_feeling_chooses_techniques_that_help_with_it(feeling: str, helps: set[str]) -> None:
    by_first_line = {t.intro[0].text: t.key for t in TECHNIQUES}
    for variation in ("a", "b", "c", "d", "e"):
        content = compose(
            ContentType.MEDITATION,
            answers(purpose="less stress", time_of_day="evening", feeling=feeling),
            variation=variation,
        )
        used = {by_first_line[line] for line in spoken_lines(content) if line in by_first_line}
        assert used & helps, (feeling, used)


@pytest.mark.parametrize("content_type", list(ContentType), ids=str)
def test_different_answers_give_different_pieces(content_type: ContentType) -> None:
    first = compose(content_type, answers())
    second = compose(
        content_type,
        answers(purpose="more gratitude for my family", time_of_day="midday", feeling="hopeful"),
    )
    shared = set(spoken_lines(first)) & set(spoken_lines(second))
    # a ritual keeps its frame (arriving, three breaths) whatever it is for
    most = 0.4 if content_type is ContentType.RITUAL else 0.25
    assert len(shared) < most * len(set(spoken_lines(first))), shared


@pytest.mark.parametrize("content_type", list(ContentType), ids=str)
def test_asking_twice_varies_the_piece_and_remaking_a_job_does_not(
    content_type: ContentType,
) -> None:
    one = compose(content_type, answers(), variation="job-1")
    again = compose(content_type, answers(), variation="job-1")
    other = compose(content_type, answers(), variation="job-2")
    assert one == again
    assert one.text != other.text
    assert spoken_lines(one) != spoken_lines(other)


@pytest.mark.parametrize(("content_type", "minutes", "time_of_day", "pace"), CASES, ids=str)
def test_no_line_repeats_unless_a_technique_repeats_it(
    content_type: ContentType, minutes: int, time_of_day: str, pace: str
) -> None:
    content = compose(content_type, answers(duration=minutes, time_of_day=time_of_day, pace=pace))
    lines = spoken_lines(content)
    repeated = {line for line, n in Counter(lines).items() if n > 1} - CYCLES
    assert not repeated
    # and never the same line twice in a row, except a breath count's rounds
    for before, after in itertools.pairwise(lines):
        assert before != after or before in CYCLES


# --- the library -------------------------------------------------------------------------


def test_the_library_has_the_techniques_a_teacher_uses() -> None:
    keys = {t.key for t in TECHNIQUES}
    assert len(keys) == len(TECHNIQUES) >= 12
    assert {
        "body-scan",
        "breath-counting",
        "four-seven-eight",
        "box-breathing",
        "loving-kindness",
        "peaceful-place",
        "noting",
        "sound-awareness",
        "gratitude",
        "sleep-countdown",
        "muscle-relaxation",
    } <= keys
    scan = " ".join(c.text for c in next(t for t in TECHNIQUES if t.key == "body-scan").intro)
    for region in (
        "toes", "soles", "ankles", "calves", "knees", "thighs", "hips", "lower back", "belly",
        "chest", "shoulders", "elbows", "fingers", "neck", "jaw", "eyes", "forehead", "crown",
    ):  # fmt: skip
        assert region in scan, region
    for technique in TECHNIQUES:
        assert all(0 < cue.rest <= 20 for cue in technique.lines(2)), technique.key


def test_affirmations_cover_themes_in_the_first_person() -> None:
    assert set(AFFIRMATIONS) == {theme.key for theme in THEMES}
    assert len(AFFIRMATIONS) >= 12
    every = [line for lines in AFFIRMATIONS.values() for line in lines]
    assert len(every) == len(set(every))  # no line in two themes
    for theme, lines in AFFIRMATIONS.items():
        assert len(set(lines)) >= 15, theme
        for line in lines:
            assert re.search(r"\b(I|My|me|my)\b", line), line
            assert not re.search(r"\byou\b", line, re.IGNORECASE), line


def test_rituals_have_concrete_steps_for_every_time_of_day() -> None:
    for time_of_day in ("morning", "midday", "evening", "bedtime", "anytime"):
        steps = [step for step in STEPS if time_of_day in step.times]
        assert len(steps) >= 7, time_of_day
        assert {0, 2, 6, 9} <= {step.order for step in steps}  # prepare, arrive, intention, close


@pytest.mark.parametrize(
    ("purpose", "themes"),
    [
        (INTERVIEW, ["interview", "calm"]),
        ("self-confidence before public speaking", ["public_speaking", "confidence"]),
        ("sleeping_better", ["sleep"]),
        ("less_stress", ["calm"]),
        ("money worries", ["calm", "abundance"]),
        ("my sister and I keep arguing", ["relationships"]),
        ("I will be fine", ["general"]),
    ],
)
def test_a_purpose_becomes_themes(purpose: str, themes: list[str]) -> None:
    assert [t.key for t in themes_of(purpose)][: len(themes)] == themes


def test_the_occasion_is_named_as_the_user_put_it() -> None:
    assert occasion(INTERVIEW) == "tomorrow's"
    assert occasion("presentation at work") == "your"


# --- real speech --------------------------------------------------------------------------


@pytest.fixture
async def speaker() -> AsyncIterator[EspeakSpeaker]:
    speaker = EspeakSpeaker()
    yield speaker
    await speaker.close()


async def test_espeak_guides_a_whole_ten_minute_bedtime_meditation(
    speaker: EspeakSpeaker,
) -> None:
    request = ContentRequest(BOT, ContentType.MEDITATION, answers(), variation="job-1")
    content = await GroundedComposer().compose(request)
    audio = await speaker.speak(
        content.spoken,
        voice_settings({}, "en", "slow"),
        [AudioFormat.OGG_OPUS],
        target_seconds=600,
    )
    encoded = audio[AudioFormat.OGG_OPUS]
    assert abs(encoded.duration - 600) <= 60
    samples = decode(encoded.data, max_seconds=700)
    window = 16_000 // 50  # 20 ms
    frames = samples[: len(samples) // window * window].reshape(-1, window)
    loud = np.sqrt((frames**2).mean(axis=1)) > np.abs(samples).max() * 0.01
    gaps, run = [], 0
    for is_loud in [*loud, True]:
        if is_loud and run:
            gaps.append(run * 0.02)
        run = 0 if is_loud else run + 1
    long_gaps = [gap for gap in gaps if gap >= 1.0]
    assert max(long_gaps) <= 45, max(long_gaps)
    assert 1 - sum(long_gaps) / (len(samples) / 16_000) >= 0.4
