"""Scripted personal content: meditations, affirmations and rituals without a model.

The grounded composer writes a confirmed guided-flow request from the practice library
(:mod:`core.generation.practices`). The user's purpose becomes themes, never words read
back; the time of day decides how the piece opens and ends (a bedtime piece never wakes
the listener) and which techniques suit it; the feeling decides how it meets the
listener. Techniques, scenes and affirmations are chosen in a seeded order, so two
requests with different answers, or the same answers in two jobs, give different
pieces, and are added until speech fills its share of the length (:mod:`pacing`).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from babel.numbers import format_decimal

from core.content import ContentType
from core.generation.pacing import (
    FILL,
    MAX_FILL,
    MAX_REST,
    Section,
    audio_plan,
    min_rest,
    prose,
    speaking_rate,
    speech_seconds,
    timed,
)
from core.generation.practices.affirmations import AFFIRMATIONS
from core.generation.practices.frames import (
    AFFIRM_LEAD,
    AFFIRM_STEP,
    AFFIRM_SUMMARY,
    AFFIRMATIONS_GUIDE,
    CLOSINGS,
    GREETING,
    HERE_FOR_YOU,
    INTERLUDES,
    MEDITATE_STEP,
    MEDITATE_SUMMARY,
    MINUTES,
    MOMENTS,
    RITUAL_FOR_YOU,
    RITUAL_LINE,
    ROUNDS_LEADS,
    SCENE_LEADS,
    SECONDS,
    SETTLING,
    SIGN_OFF,
    THEN,
    TITLES,
    WELCOMES,
    feeling_lines,
    helps_with,
)
from core.generation.practices.model import Cue, Mood, Stage, Technique, cues
from core.generation.practices.rituals import STEPS
from core.generation.practices.techniques import TECHNIQUES
from core.generation.practices.themes import Theme, occasion, related_themes, themes_of
from core.generation.practices.translation import ENGLISH, Translator, translator
from core.generation.seams import ContentRequest, GeneratedContent

_MOODS = {
    "bedtime": Mood.SETTLING,
    "evening": Mood.SETTLING,
    "morning": Mood.ENERGISING,
}
_DEFAULT_MINUTES = {ContentType.MEDITATION: 10, ContentType.AFFIRMATIONS: 5, ContentType.RITUAL: 10}


@dataclass(frozen=True, slots=True)
class Brief:
    """What a request asks for, read once: length, pace, time of day, themes, the
    sentence naming the intention, the feeling, the seeded chooser, and the language
    the piece speaks (``words`` translates the library's lines)."""

    minutes: int
    pace: str
    time: str
    themes: tuple[Theme, ...]
    intention: str
    occasion: str
    feeling: str
    rng: random.Random
    words_per_minute: int | None = None
    words: Translator = ENGLISH

    @property
    def seconds(self) -> float:
        """The asked length in seconds."""
        return self.minutes * 60.0

    @property
    def rate(self) -> int:
        """Words per minute the voice speaks at: the user's own speed, else the pace's."""
        return self.words_per_minute or speaking_rate(self.pace)

    @property
    def mood(self) -> Mood:
        """Where the time of day wants the listener: settled, steady or energised."""
        return _MOODS.get(self.time, Mood.STEADY)

    @property
    def moment(self) -> str:
        """The phrase naming the time of day."""
        return self.words(MOMENTS.get(self.time, MOMENTS["anytime"]))

    @property
    def speech_goal(self) -> float:
        """Seconds of speech the piece should hold."""
        return FILL.get(self.pace, FILL["moderate"]) * self.seconds

    def fits(self, lines: Sequence[Cue]) -> bool:
        """Whether lines fit a bedtime piece (they never wake the listener, in the
        piece's language)."""
        return self.time != "bedtime" or not any(self.words.waking.search(c.text) for c in lines)

    def local(self, lines: Iterable[Cue]) -> tuple[Cue, ...]:
        """Library lines in the piece's language, each with its silence."""
        return tuple(Cue(self.words(cue.text), cue.rest) for cue in lines)

    def intention_of(self, theme: Theme) -> str:
        """The phrase naming what the piece is for, as ``theme`` says it."""
        return self.words(theme.intention.format(occasion=self.occasion))


def brief(request: ContentRequest) -> Brief:
    """Read the request's answers; the seed comes from the answers and the request's
    ``variation`` (a job's id), so a job's piece is the same if it is made again."""
    answers = request.answers
    purpose = str(answers.get("purpose") or "")
    words = translator(request.language)
    found = themes_of(purpose, words.language)
    said = occasion(purpose, words.language)
    minutes = int(answers.get("duration") or _DEFAULT_MINUTES[request.content_type])
    seed = json.dumps([request.variation, request.content_type, dict(answers)], default=str)
    return Brief(
        minutes=minutes,
        pace=str(answers.get("pace") or "moderate"),
        time=str(answers.get("time_of_day") or "anytime"),
        themes=tuple(found),
        intention=words(found[0].intention.format(occasion=said)),
        occasion=said,
        feeling=str(answers.get("feeling") or ""),
        rng=random.Random(hashlib.sha256(seed.encode()).hexdigest()),
        words_per_minute=request.words_per_minute,
        words=words,
    )


def write_script(request: ContentRequest) -> GeneratedContent:
    """The script for a confirmed guided-flow request, in the bot's own voice: prose to
    read, and the audio plan with its silences for the voice."""
    plan = brief(request)
    builder: Callable[[Brief], list[Section]] = {
        ContentType.MEDITATION: _meditation,
        ContentType.AFFIRMATIONS: _affirmations,
        ContentType.RITUAL: _ritual,
    }[request.content_type]
    bot = request.bot.name
    sections = [
        Section(cues(plan.words.say(GREETING, bot=bot) + " ~2")),
        *builder(plan),
        Section(cues(plan.words.say(SIGN_OFF, bot=bot))),
    ]
    sections = timed(sections, plan.seconds, plan.rate, min_rest(plan.pace))
    title = title_of(plan, request.content_type)
    if request.content_type is ContentType.RITUAL:
        text = _ritual_text(sections, plan)
    else:
        text = prose(sections)
    return GeneratedContent(title=title, text=text, spoken=audio_plan(sections))


def title_of(plan: Brief, content_type: ContentType) -> str:
    """A piece's title: its length, kind and theme, never the user's own words."""
    subject = plan.words(plan.themes[0].title.format(occasion=plan.occasion))
    return plan.words.say(TITLES[content_type.value], minutes=plan.minutes, subject=subject)


def _frame(plan: Brief, kind: ContentType) -> tuple[Section, Section, Section]:
    """The opening (welcome, intention, settling in), the feeling, and the closing."""
    time = plan.time if plan.time in SETTLING else "any"
    settle = plan.local(plan.rng.choice(SETTLING[time]))
    welcome = plan.words.say(WELCOMES[kind.value], minutes=plan.minutes, moment=plan.moment)
    opening = (
        *cues(welcome),
        Cue(plan.words.say(HERE_FOR_YOU, intention=plan.intention), 3),
        *settle,
    )
    ending = plan.time if plan.time in CLOSINGS else "any"
    closing = plan.local(plan.rng.choice(CLOSINGS[ending]))
    feeling = plan.local(feeling_lines(plan.feeling, plan.words.language))
    return Section(opening), Section(feeling), Section(closing)


def _fill(plan: Brief, fixed: Sequence[Cue], candidates: Iterable[Sequence[Cue]]) -> list[int]:
    """Which candidates (by index, in the order offered) to add to the ``fixed`` lines
    so that speech reaches its goal without crowding out the silences: a candidate that
    would pass the most speech a piece may hold is skipped for a shorter one."""
    speech = speech_seconds(fixed, plan.rate)
    rests = sum(1 for _ in fixed)
    chosen: list[int] = []
    for index, lines in enumerate(candidates):
        room = plan.seconds - speech
        if speech >= plan.speech_goal and rests * MAX_REST >= room:
            break
        if not plan.fits(lines):
            continue
        more = speech_seconds(lines, plan.rate)
        shortest = speech + more + min_rest(plan.pace) * (rests + len(lines))
        if speech + more > MAX_FILL * plan.seconds or shortest > plan.seconds:
            continue
        chosen.append(index)
        speech += more
        rests += len(lines)
    return chosen


@dataclass(frozen=True, slots=True)
class _Offer:
    """A practice the planner may add: how well it suits, where it goes, what it says,
    and the technique it leads (None for a theme's scene)."""

    score: float
    stage: Stage
    lines: tuple[Cue, ...]
    technique: Technique | None = None


def _meditation(plan: Brief) -> list[Section]:
    opening, feeling, closing = _frame(plan, ContentType.MEDITATION)
    # a long piece visits more of the themes' scenes; a lively one talks more
    offers = _guided(plan, scenes=(2 if plan.minutes < 15 else 4) + (plan.pace == "lively") * 2)
    fixed = [*opening.cues, *feeling.cues, *closing.cues]
    chosen = [offers[i] for i in _fill(plan, fixed, [o.lines for o in offers])]
    # still short of speech (a long, lively piece): more rounds of the cycles chosen
    said = fixed + [cue for offer in chosen for cue in offer.lines]
    led = [offer for offer in chosen if offer.technique is not None]
    more = _more_rounds(plan, said, [offer.technique for offer in led if offer.technique])
    chosen += [
        _Offer(offer.score, offer.stage, lines)
        for offer, lines in zip(led, more, strict=True)
        if lines
    ]
    # in a teacher's order; a technique's extra rounds come right after it
    middle = sorted(chosen, key=lambda offer: (offer.stage, -offer.score))
    return [opening, feeling, *(Section(offer.lines) for offer in middle), closing]


def _more_rounds(
    plan: Brief, said: Sequence[Cue], techniques: Sequence[Technique]
) -> list[tuple[Cue, ...]]:
    """For each technique, more rounds of its cycle while the piece is still short of
    speech (a long or lively piece, once the library's practices are used), in up to
    :data:`ROUNDS_LEADS` blocks; an empty tuple for a technique that needs none."""
    blocks = [
        (
            index,
            (
                Cue(plan.words.say(lead, technique=plan.words(technique.name)), 2),
                *plan.local(technique.cycle) * 2,
            ),
        )
        for lead in ROUNDS_LEADS
        for index, technique in enumerate(techniques)
        if technique.cycle
    ]
    picked = _fill(plan, said, [lines for _, lines in blocks])
    more: list[tuple[Cue, ...]] = [() for _ in techniques]
    for pick in picked:
        index, lines = blocks[pick]
        more[index] += lines
    return more


def _guided(plan: Brief, scenes: int) -> list[_Offer]:
    """The techniques that suit the time of day and the themes' scenes, best first:
    a technique scores for each theme it serves and for helping with the feeling, plus a
    seeded share of chance."""
    found = {theme.key for theme in plan.themes}
    offers: list[_Offer] = []
    for technique in TECHNIQUES:
        if plan.mood not in technique.moods:
            continue
        score = 2.0 * len(technique.themes & found) + plan.rng.random() * 2.5
        if technique.key in helps_with(plan.feeling, plan.words.language):
            score += 2.5  # what helps with how the listener feels comes early
        if technique.key == "sleep-countdown" and plan.time == "bedtime":
            score += 10  # a bedtime piece ends by counting down into sleep
        offers.append(_Offer(score, technique.stage, _led(technique, plan), technique))
    for rank, theme in enumerate(related_themes(plan.themes)[:scenes]):
        said = plan.intention_of(theme)
        lead = Cue(plan.words.say(SCENE_LEADS[rank % len(SCENE_LEADS)], intention=said), 3)
        scene = (lead, *plan.local(theme.scene))
        offers.append(_Offer(8.0 - rank * 3 + plan.rng.random(), Stage.HEART, scene))
    offers.sort(key=lambda offer: -offer.score)
    return offers


def _led(technique: Technique, plan: Brief) -> tuple[Cue, ...]:
    """A technique with as many rounds of its cycle as the length suggests: one round
    for every five minutes, within what the technique allows."""
    return plan.local(technique.lines(max(1, plan.minutes // 5 + plan.rng.randint(0, 1))))


_GROUP = 6


def _affirmations(plan: Brief) -> list[Section]:
    opening, feeling, closing = _frame(plan, ContentType.AFFIRMATIONS)
    guide = plan.local(AFFIRMATIONS_GUIDE)
    groups: list[tuple[Cue, ...]] = []
    for theme in related_themes(plan.themes):
        lines = [plan.words(line) for line in AFFIRMATIONS[theme.key]]
        plan.rng.shuffle(lines)
        for start in range(0, len(lines), _GROUP):
            # the silence after each one leaves time to say it back
            said = lines[start : start + _GROUP]
            groups.append(tuple(Cue(line, 2 + len(line.split()) * 0.4) for line in said))
    interludes = list(plan.local(INTERLUDES))
    plan.rng.shuffle(interludes)
    # between groups of affirmations, a short pause to breathe or a guided practice
    # (short ones, and none that belongs at the very end, such as a countdown into sleep)
    guided = [
        offer.lines
        for offer in _guided(plan, scenes=3)
        if len(offer.lines) <= 16 and offer.stage is not Stage.ENDING
    ]
    candidates: list[tuple[Cue, ...]] = []
    listed: list[tuple[Cue, ...]] = []
    for i, group in enumerate(groups):
        listed.append((*group, interludes[i]) if i < len(interludes) else group)
        candidates.append(listed[-1])
        if i < len(guided):
            candidates.append(guided[i])
    fixed = [*opening.cues, *guide, *feeling.cues, *closing.cues]
    picks = _fill(plan, fixed, candidates)
    body = [Section(candidates[i], listed=candidates[i] in listed) for i in picks]
    return [opening, Section(feeling.cues + guide), *body, closing]


_RITUAL_FRAME = frozenset({0, 2, 6, 9})  # prepare, arrive, intention, close: always there


def _ritual(plan: Brief) -> list[Section]:
    time = plan.time if plan.time in MOMENTS else "anytime"
    steps = [step for step in STEPS if time in step.times]
    lines = [plan.words(line) for line in AFFIRMATIONS[plan.themes[0].key]]
    plan.rng.shuffle(lines)
    intended = lines[0]

    def section(
        name: str, summary: str, step_cues: Sequence[Cue], order: float
    ) -> tuple[float, Section]:
        words = plan.words
        filled = tuple(
            Cue(words(c.text).replace("{affirmation}", intended), c.rest) for c in step_cues
        )
        return order, Section(
            filled, words(name), words(summary).replace("{affirmation}", intended)
        )

    frame = [
        section(s.name, s.summary, s.lines, s.order) for s in steps if s.order in _RITUAL_FRAME
    ]
    extras = [
        section(s.name, s.summary, s.lines, s.order) for s in steps if s.order not in _RITUAL_FRAME
    ]
    said_after = lines[1:6]
    extras.append(
        (
            7.5,
            Section(
                (Cue(plan.words(AFFIRM_LEAD), 2), *(Cue(line, 6) for line in said_after)),
                plan.words(AFFIRM_STEP),
                plan.words.say(AFFIRM_SUMMARY, affirmations=" ".join(said_after)),
            ),
        )
    )
    plan.rng.shuffle(extras)
    # a ritual is mostly doing: a sitting practice only when the steps leave time for one
    sitting = [
        (technique, _led(technique, plan))
        for technique in TECHNIQUES
        if plan.mood in technique.moods and technique.stage is not Stage.ENDING
    ]
    plan.rng.shuffle(sitting)
    welcome = cues(
        plan.words.say(WELCOMES["ritual"], minutes=plan.minutes, moment=plan.moment),
        plan.words.say(RITUAL_FOR_YOU, intention=plan.intention) + " ~3",
    )
    feeling = plan.local(feeling_lines(plan.feeling, plan.words.language))
    fixed = [*welcome, *feeling, *(c for _, s in frame for c in s.cues)]
    picks = _fill(plan, fixed, [s.cues for _, s in extras])
    chosen = [extras[i] for i in picks]
    said = [*fixed, *(c for _, s in chosen for c in s.cues)]
    practices = [sitting[i] for i in _fill(plan, said, [led for _, led in sitting])]
    if practices:
        said += [c for _, led in practices for c in led]
        # a long, lively ritual: more rounds of each practice, right after it
        more = _more_rounds(plan, said, [technique for technique, _ in practices])
        names = plan.words(THEN).join(plan.words(technique.name) for technique, _ in practices)
        summary = plan.words.say(MEDITATE_SUMMARY, techniques=names)
        practice = tuple(
            c for (_, led), extra in zip(practices, more, strict=True) for c in (*led, *extra)
        )
        chosen.append((5.5, Section(practice, plan.words(MEDITATE_STEP), summary)))
    ordered = sorted(frame + chosen, key=lambda item: item[0])
    return [Section(welcome), Section(feeling), *(s for _, s in ordered)]


def _ritual_text(sections: Sequence[Section], plan: Brief) -> str:
    """The ritual to read: its welcome, then one numbered line per step with about how
    long it takes (in half minutes, or quarters when the steps are many, adding up to
    the whole)."""
    intro = [s for s in sections if not s.name]
    steps = [s for s in sections if s.name]
    lengths = [speech_seconds(s.cues, plan.rate) + sum(c.rest for c in s.cues) for s in steps]
    unit = 30 if len(steps) <= plan.minutes * 2 else 15
    shares = _shares(lengths, plan.minutes * 60 // unit)
    lines = [prose(intro[:-1]), ""]
    for number, (step, share) in enumerate(zip(steps, shares, strict=True), 1):
        seconds = share * unit
        words = plan.words
        about = (
            words.say(SECONDS, seconds=seconds)
            if seconds < 60
            else words.say(MINUTES, minutes=format_decimal(seconds / 60, locale=words.language))
        )
        lines.append(
            words.say(
                RITUAL_LINE, number=number, name=step.name, length=about, summary=step.summary
            )
        )
    return "\n".join([*lines, "", prose(intro[-1:])])


def _shares(lengths: Sequence[float], total: int) -> list[int]:
    """Split ``total`` units of time among steps in proportion to ``lengths``, at least
    one each, by largest remainder."""
    spare = total - len(lengths)
    exact = [spare * n / sum(lengths) for n in lengths]
    whole = [int(x) for x in exact]
    by_remainder = sorted(range(len(lengths)), key=lambda i: exact[i] - whole[i], reverse=True)
    for i in by_remainder[: spare - sum(whole)]:
        whole[i] += 1
    return [w + 1 for w in whole]
