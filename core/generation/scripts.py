"""Scripted personal content: meditations, affirmations and rituals without a model.

The grounded composer writes a confirmed guided-flow request from these building
blocks, shaped by the user's answers (purpose, time of day, feeling, length, pace).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from core.content import ContentType
from core.generation.seams import ContentRequest, GeneratedContent

WORDS_PER_MINUTE = 140
# how many spoken cues a pace fits in: a slow practice leaves more silence between fewer cues
_CUE_DENSITY = {"slow": 0.6, "moderate": 1.0, "lively": 1.5}

_THEMES: Mapping[str, tuple[str, ...]] = {
    "sleep": ("sleep", "rest", "insomnia", "night", "bed", "tired"),
    "stress": ("stress", "anxi", "worry", "calm", "overwhelm", "tense", "panic", "relax"),
    "focus": ("focus", "concentrat", "study", "work", "clarity", "attention", "productiv"),
    "confidence": ("confiden", "self-esteem", "worth", "courage", "brave", "believe"),
}

_AFFIRMATIONS: Mapping[str, tuple[str, ...]] = {
    "sleep": (
        "My body knows how to rest.",
        "I let the day go; it is complete.",
        "Each breath makes me heavier and softer.",
        "I am safe to slow down now.",
        "Sleep comes to me in its own time, and I can wait gently.",
    ),
    "stress": (
        "I can take this one breath at a time.",
        "I do not have to solve everything today.",
        "My shoulders are allowed to drop.",
        "I meet what comes with steadiness.",
        "There is space around every worry.",
    ),
    "focus": (
        "My attention returns where I place it.",
        "I give this moment my whole mind.",
        "One task at a time is enough.",
        "Distractions pass; my intention stays.",
        "I work with clarity and ease.",
    ),
    "confidence": (
        "I trust what I bring.",
        "My voice deserves to be heard.",
        "I can do hard things, and I have done them before.",
        "I am learning, and learning is strength.",
        "I stand on my own feet, steady and sure.",
    ),
    "general": (
        "I am allowed to take care of myself.",
        "I am growing at the pace that is right for me.",
        "Today I choose kindness, towards others and myself.",
        "I have what I need for this moment.",
        "I welcome what is good in my life.",
    ),
}


def _theme(purpose: str) -> str:
    lowered = purpose.lower()
    for theme, stems in _THEMES.items():
        if any(stem in lowered for stem in stems):
            return theme
    return "general"


def write_script(request: ContentRequest) -> GeneratedContent:
    """The script for a confirmed guided-flow request, in the bot's own voice."""
    builder = {
        ContentType.MEDITATION: _meditation,
        ContentType.AFFIRMATIONS: _affirmations,
        ContentType.RITUAL: _ritual,
    }[request.content_type]
    content = builder(request.answers)
    # the creator's agent speaks in its own name, first and last
    bot = request.bot.name
    text = f"This is {bot}, here with you.\n{content.text}\nWith care, {bot}."
    return GeneratedContent(title=content.title, text=text)


def _timed(lines: Sequence[str | float], minutes: int) -> str:
    """Join speech lines and pause weights so that speech plus pauses fill ``minutes``.

    Speech time is estimated from the word count at a calm speaking rate; the time left
    is shared among the pauses in proportion to their weights.
    """
    words = sum(len(line.split()) for line in lines if isinstance(line, str))
    speech = words / WORDS_PER_MINUTE * 60
    weights = sum(line for line in lines if not isinstance(line, str)) or 1.0
    spare = max(0.0, minutes * 60 - speech)
    return "\n".join(
        line
        if isinstance(line, str)
        else f"(pause {max(3, round(spare * line / weights))} seconds)"
        for line in lines
    )


_FILLER = re.compile(
    r"^(?:i(?:'d| would)? (?:like|want|need) (?:it )?(?:to )?|help me (?:to )?|to help me |"
    r"help with |to |for )",
    re.IGNORECASE,
)


def _purpose(answers: Mapping[str, Any], default: str) -> str:
    """The user's purpose as a phrase: "to sleep better" becomes "sleep better"."""
    text = str(answers.get("purpose", default)).strip().rstrip(".!")
    return _FILLER.sub("", text, count=1) or text


def _moment(answers: Mapping[str, Any]) -> str:
    return {
        "morning": "as the day begins",
        "midday": "in the middle of your day",
        "evening": "as the day winds down",
        "bedtime": "as you get ready for sleep",
    }.get(str(answers.get("time_of_day")), "wherever you are right now")


def _meditation(answers: Mapping[str, Any]) -> GeneratedContent:
    minutes = int(answers.get("duration", 10))
    purpose = _purpose(answers, "this moment")
    feeling = str(answers.get("feeling", "however you are"))
    regions = ["feet", "legs", "belly", "chest", "shoulders", "arms and hands", "jaw", "face"]
    density = _CUE_DENSITY.get(str(answers.get("pace")), 1.0)
    scan = regions[: max(3, min(len(regions), round(minutes / 2 * density)))]
    lines: list[str | float] = [
        f"Welcome. This is your {minutes}-minute meditation, {_moment(answers)}.",
        f"Your intention: {purpose}.",
        "Find a position that lets you be both comfortable and awake.",
        1,
        f"You said you are feeling {feeling}. Let that be exactly as it is. Nothing to fix.",
        "Breathe in slowly through the nose... and let the breath go.",
        2,
    ]
    for _ in range(max(1, round(minutes / 4 * density))):
        lines += ["Breathe in for four... hold for two... and out for six.", 3]
    lines.append("Now bring your attention into the body.")
    for region in scan:
        lines += [f"Notice your {region}. Let that part of you soften a little.", 2]
    lines += [
        f"Hold your intention lightly: {purpose}.",
        "Each out-breath makes a little more room for it.",
        6,
        "Begin to notice the sounds around you and the weight of your body.",
        "When you are ready, open your eyes. Take this calm with you.",
    ]
    title = f"{minutes}-minute meditation · {purpose}"
    text = _timed(lines, minutes)
    return GeneratedContent(title=title, text=text)


def _affirmations(answers: Mapping[str, Any]) -> GeneratedContent:
    minutes = int(answers.get("duration", 5))
    purpose = _purpose(answers, "your day")
    # the theme's own lines first, then general ones, each once
    pool = tuple(dict.fromkeys(_AFFIRMATIONS[_theme(purpose)] + _AFFIRMATIONS["general"]))
    count = min(len(pool), max(4, minutes))
    rounds = max(1, minutes // 5)
    lines: list[str | float] = [
        f"Affirmations {_moment(answers)}. Your intention: {purpose}.",
        f"You are feeling {answers.get('feeling', 'as you are')}; that is a fine place to begin.",
        "Say each one slowly, out loud or silently, and let it land before the next.",
        "",
    ]
    for round_number in range(1, rounds + 1):
        if rounds > 1:
            lines.append(f"Round {round_number}:")
        for affirmation in pool[:count]:
            lines += [affirmation, 1]
    lines.append("Finish with one deep breath. These words are yours now.")
    title = f"{minutes}-minute affirmations · {purpose}"
    text = _timed(lines, minutes)
    return GeneratedContent(title=title, text=text)


def _share(minutes: int, weights: list[int]) -> list[float]:
    """Split ``minutes`` into half-minute steps, at least one each, by weight, exactly."""
    spare = minutes * 2 - len(weights)
    exact = [spare * w / sum(weights) for w in weights]
    halves = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - halves[i], reverse=True)
    for i in by_remainder[: spare - sum(halves)]:
        halves[i] += 1
    return [(h + 1) / 2 for h in halves]


def _ritual(answers: Mapping[str, Any]) -> GeneratedContent:
    minutes = int(answers.get("duration", 10))
    purpose = _purpose(answers, "your day")
    feeling = str(answers.get("feeling", "as you are"))
    steps = [
        (
            "Prepare",
            "Clear a small space. Put your phone face down. Light a candle or open "
            "a window: mark that this time is different.",
        ),
        ("Arrive", f"Sit or stand still. Name how you feel: {feeling}. Three slow breaths."),
        ("Intention", f'Say your intention out loud: "{purpose[:1].upper()}{purpose[1:]}."'),
        ("Move", "Stretch gently: reach up, fold forward, roll the shoulders back."),
        ("Reflect", "Write one line: what small step would serve your intention today?"),
        ("Close", "Blow out the candle, or close the window, and thank yourself for showing up."),
    ]
    weights = [1, 2, 1, 3, 3, 1]
    lengths = _share(minutes, weights)
    lines = [f"A {minutes}-minute ritual, {_moment(answers)}. Your intention: {purpose}.", ""]
    for number, ((name, text), length) in enumerate(zip(steps, lengths, strict=True), 1):
        lines.append(f"{number}. {name} (about {length:g} min): {text}")
    title = f"{minutes}-minute ritual · {purpose}"
    return GeneratedContent(title=title, text="\n".join(lines))
