"""Themes: what a purpose in the user's own words is about, and how a piece speaks of it.

A purpose is never read back to the user. Its words are matched against each theme's
keywords ("I have a job interview tomorrow and my mind keeps racing" is about an
interview and about calm), and the piece speaks of the theme in its own words ("as you
prepare for tomorrow's interview"). Each theme carries a short guided scene.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.generation.practices.keywords import OCCASION_WORDS, THEME_WORDS, folded
from core.generation.practices.model import Cue, cues


@dataclass(frozen=True, slots=True)
class Theme:
    """One theme: its keywords, its name in a title, the sentence naming the intention
    (``{occasion}`` becomes "tomorrow's", "today's" or "your"), the themes close to it,
    and a guided scene."""

    key: str
    title: str
    keywords: tuple[str, ...]
    intention: str
    related: tuple[str, ...]
    scene: tuple[Cue, ...]


def _keywords(spelled: str) -> tuple[str, ...]:
    """Keywords written as one string, ``|`` between them (a keyword may be a phrase)."""
    return tuple(spelled.split("|"))


THEMES: tuple[Theme, ...] = (
    Theme(
        key="interview",
        title="steady for {occasion} interview",
        keywords=_keywords("interview|job interview|hiring|recruit|audition|assessment"),
        intention="as you prepare for {occasion} interview",
        related=("confidence", "calm", "career"),
        scene=cues(
            "Picture the day of the interview, some time before it begins.",
            "See yourself arriving in good time, calm, with nothing to rush for. ~8",
            "Notice how you sit: both feet on the floor, shoulders easy. ~8",
            "Imagine the first question, and hear yourself answering clearly and warmly. ~10",
            "If you need a moment to think, you take it, and that is perfectly fine. ~8",
            "See the people across from you as people, curious about what you bring. ~8",
            "You have prepared. You know your own story. ~8",
            "Picture leaving the room afterwards, knowing you showed them who you are. ~10",
        ),
    ),
    Theme(
        key="public_speaking",
        title="speaking with ease",
        keywords=_keywords(
            "public speaking|speech|presentation|presenting|talk in front|"
            "speak in front|speaking in front|audience|stage|pitch|lecture|toast|"
            "speaking"
        ),
        intention="as you prepare for {occasion} talk",
        related=("confidence", "calm"),
        scene=cues(
            "Picture the room where you will speak, before anyone arrives.",
            "Walk to the place where you will stand, and feel the floor beneath your feet. ~8",
            "Now see the room filling with people, people who want you to do well. ~8",
            "Take one slow breath before your first words. ~6",
            "Hear your voice, steady and clear, reaching the back of the room. ~10",
            "If you lose your place, you pause, breathe, and find it again. ~8",
            "Notice a friendly face in the audience, nodding along. ~8",
            "And see yourself finishing, thanking them, and hearing the room respond. ~10",
        ),
    ),
    Theme(
        key="sleep",
        title="restful sleep",
        keywords=_keywords(
            "sleep|insomnia|bed|night|tired|rest|drift off|fall asleep|wake up at night|asleep"
        ),
        intention="as you let the day end and make room for rest",
        related=("calm", "gratitude"),
        scene=cues(
            "Imagine lying in a warm, soft bed, in a room that is dark and quiet.",
            "Outside, a gentle rain is falling, steady and soothing. ~10",
            "Each drop washes a little more of the day away. ~10",
            "The blankets are heavy and warm, holding you safely. ~10",
            "There is nowhere else to be, and nothing else to do. ~12",
            "Sleep is coming in its own time, like a tide coming in. ~12",
        ),
    ),
    Theme(
        key="calm",
        title="calm and steady",
        keywords=_keywords(
            "stress|anxi|worr|calm|overwhelm|tense|tension|panic|relax|racing|"
            "overthink|nervous|peace|on edge|mind keeps|busy mind|fear"
        ),
        intention="as you make room for calm",
        related=("resilience", "health"),
        scene=cues(
            "Imagine your mind as a lake. When the wind blows, the surface ripples.",
            "Thoughts are only ripples on the surface. ~8",
            "Now let the wind drop. Watch the ripples grow smaller. ~10",
            "The surface grows still, and clear. ~10",
            "Beneath it, the deep water was always calm. ~10",
            "Rest in that stillness. It is part of you. ~12",
        ),
    ),
    Theme(
        key="focus",
        title="clear focus",
        keywords=_keywords(
            "focus|concentrat|study|studies|exam|distract|clarity|attention|"
            "productiv|procrastinat|revision|deep work"
        ),
        intention="as you gather your attention for what matters today",
        related=("career", "calm"),
        scene=cues(
            "Picture the one task that matters most right now.",
            "See it clearly, as if it were laid out on a clean desk in front of you. ~8",
            "Everything else can wait at the edge of the room. ~8",
            "Imagine beginning: the first small step, and then the next. ~10",
            "Each time your attention drifts, you bring it back, without fuss. ~10",
            "Feel the quiet satisfaction of steady progress. ~10",
        ),
    ),
    Theme(
        key="confidence",
        title="self-confidence",
        keywords=_keywords(
            "confiden|courage|brave|believe in myself|self-doubt|doubt|shy|assert|bold|insecur"
        ),
        intention="as you grow your confidence",
        related=("self_worth", "resilience"),
        scene=cues(
            "Remember a time you did something that once felt difficult.",
            "See where you were, and who was there. ~8",
            "Feel again the moment you realised you could do it. ~10",
            "Notice where that confidence lives in your body. ~8",
            "Breathe into it, and let it grow a little wider with each breath. ~10",
            "This strength came with you. It is here now. ~10",
        ),
    ),
    Theme(
        key="self_worth",
        title="knowing your worth",
        keywords=_keywords(
            "worth|self-esteem|self esteem|enough|love myself|self-love|"
            "accept myself|deserv|self-compassion|kind to myself|inner critic"
        ),
        intention="as you remember your own worth",
        related=("confidence", "relationships"),
        scene=cues(
            "Imagine a dear friend sitting across from you, someone who sees you clearly.",
            "Notice the warmth in their face as they look at you. ~8",
            "Hear them tell you what they value about you. ~10",
            "Let those words land, even if part of you wants to argue. ~10",
            "Now imagine offering the same warmth to yourself. ~10",
        ),
    ),
    Theme(
        key="career",
        title="purpose at work",
        keywords=_keywords(
            "work|job|career|boss|colleague|promotion|business|office|deadline|"
            "meeting|manager|team|workload"
        ),
        intention="as you bring your best to your work",
        related=("focus", "confidence"),
        scene=cues(
            "Picture the start of your working day, as you would like it to be.",
            "You arrive unhurried, knowing what matters most. ~8",
            "See yourself handling a challenge with patience and skill. ~10",
            "Notice the respect between you and the people you work with. ~8",
            "Imagine the end of the day, satisfied with what you gave. ~10",
        ),
    ),
    Theme(
        key="relationships",
        title="warm connection",
        keywords=_keywords(
            "relationship|partner|friend|family|marriage|husband|wife|lonely|"
            "loneliness|connect|breakup|break up|kids|children|parent|mother|"
            "father|love life|dating|sister|brother|sibling|argu|conflict"
        ),
        intention="as you open to the people in your life",
        related=("gratitude", "self_worth"),
        scene=cues(
            "Bring to mind someone you care about.",
            "Picture them as they are when they are happy and at ease. ~8",
            "Imagine sitting together, with nothing that needs to be said. ~10",
            "Feel the thread of connection between you. ~8",
            "Let it widen to include everyone who cares about you. ~10",
        ),
    ),
    Theme(
        key="health",
        title="care for your body",
        keywords=_keywords(
            "health|heal|body|pain|illness|sick|recover|fitness|exercise|eat|"
            "weight|surgery|chronic|immune"
        ),
        intention="as you care for your body",
        related=("calm", "gratitude"),
        scene=cues(
            "Imagine a soft, warm light resting just above your head.",
            "With each in-breath it flows a little further into the body. ~8",
            "Let it pool wherever the body needs care. ~10",
            "Feel the body's own wisdom, repairing and renewing, all the time. ~10",
            "Thank the body for carrying you through each day. ~10",
        ),
    ),
    Theme(
        key="gratitude",
        title="gratitude",
        keywords=_keywords("gratitude|grateful|thank|appreciat|blessing|content"),
        intention="as you notice what is already good",
        related=("relationships", "abundance"),
        scene=cues(
            "Picture a small, ordinary moment from this week that felt good.",
            "A warm drink, a kind word, a patch of sunlight. ~8",
            "Let yourself relive it slowly. ~10",
            "Notice how much goodness hides in small moments. ~10",
            "Hold this moment like something precious. ~10",
        ),
    ),
    Theme(
        key="abundance",
        title="abundance",
        keywords=_keywords(
            "money|abundan|wealth|prosper|financ|debt|success|rich|income|salary|manifest"
        ),
        intention="as you open to abundance",
        related=("gratitude", "career"),
        scene=cues(
            "Picture your life a year from now, with everything you need.",
            "Notice how you feel: secure, generous, unhurried. ~10",
            "See how you use what you have to care for yourself and others. ~10",
            "Notice the small, wise choices that brought you here. ~10",
            "Breathe in the feeling of enough. ~10",
        ),
    ),
    Theme(
        key="resilience",
        title="inner strength",
        keywords=_keywords(
            "resilien|grief|griev|loss|hard time|difficult|setback|cope|coping|"
            "strength|failure|heartbreak|struggl|change"
        ),
        intention="as you meet what is hard with strength and gentleness",
        related=("calm", "self_worth"),
        scene=cues(
            "Picture a tree that has stood through many storms.",
            "Its roots reach deep, deeper than any wind. ~8",
            "It bends, and it does not break. ~10",
            "You have come through difficult seasons before. ~10",
            "Feel your own roots, holding you steady now. ~10",
        ),
    ),
    Theme(
        key="general",
        title="a moment for yourself",
        keywords=(),
        intention="as you take this time for yourself",
        related=("calm", "gratitude"),
        scene=cues(
            "Imagine a quiet path through a garden.",
            "Walk it slowly, noticing the colours and the scent of the air. ~10",
            "Find a bench, and sit for a while. ~10",
            "From here, everything seems a little simpler. ~10",
        ),
    ),
)
THEMES_BY_KEY = {theme.key: theme for theme in THEMES}
_OCCASIONS = (
    ("tomorrow", "tomorrow's"),
    ("tonight", "tonight's"),
    ("today", "today's"),
    ("this week", "this week's"),
    ("next week", "next week's"),
)
#: the ways a piece names the moment a purpose is about, besides "your"
OCCASIONS = tuple(dict.fromkeys(said for _word, said in _OCCASIONS))


def themes_of(purpose: str, language: str = "en") -> list[Theme]:
    """The themes a purpose is about, most mentioned first (``general`` when none), by
    the English keywords and those of the user's ``language``."""
    local = THEME_WORDS.get(language, {})
    lowered = " ".join(folded(purpose).replace("_", " ").split())
    scored = []
    for order, theme in enumerate(THEMES):
        # each keyword once, though several languages spell it alike ("stress")
        keywords = dict.fromkeys((*theme.keywords, *local.get(theme.key, ())))
        hits = sum(1 for keyword in keywords if _mentions(lowered, keyword))
        if hits:
            scored.append((-hits, order, theme))
    found = [theme for *_, theme in sorted(scored, key=lambda item: item[:2])]
    return found or [THEMES_BY_KEY["general"]]


def occasion(purpose: str, language: str = "en") -> str:
    """How a piece names the moment the purpose is about: "tomorrow's", or "your"
    (the English words first, then those of the user's ``language``)."""
    lowered = folded(purpose)
    said = next((said for word, said in _OCCASIONS if word in lowered), None)
    patterns = OCCASION_WORDS.get(language, ())
    local = (said for pattern, said in patterns if pattern.search(lowered))
    return said or next(local, "your")


def related_themes(found: Sequence[Theme]) -> list[Theme]:
    """The themes found, then those close to them, then those close to these, then
    ``general``, each once: enough lines for a long set of affirmations that stays
    near its subject."""
    keys = [theme.key for theme in found]
    near = [key for theme in found for key in theme.related]
    further = [next_key for key in near for next_key in THEMES_BY_KEY[key].related]
    keys += [*near, *further, "general"]
    return [THEMES_BY_KEY[key] for key in dict.fromkeys(keys)]


def _mentions(text: str, keyword: str) -> bool:
    # a keyword matches at the start of a word: "anxi" in "anxious", not "ill" in "will"
    return re.search(rf"\b{re.escape(keyword)}", text) is not None
