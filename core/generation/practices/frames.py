"""The frame around a piece: how it begins at a time of day, meets a feeling, and ends.

Bedtime closings let the listener fall asleep (nothing asks them to open their eyes or
to get up); morning closings end with energy; the others return gently to the day.
Each part has variants, so two pieces for the same answers need not begin alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.generation.practices.keywords import FEELING_WORDS, folded
from core.generation.practices.model import Cue, cues

#: the phrase naming the time of day, said in a piece's first line
MOMENTS: Mapping[str, str] = {
    "morning": "as the day begins",
    "midday": "in the middle of your day",
    "evening": "as the day winds down",
    "bedtime": "as you get ready for sleep",
    "anytime": "wherever you are right now",
}

#: how a piece settles the listener in, by time of day
SETTLING: Mapping[str, tuple[tuple[Cue, ...], ...]] = {
    "bedtime": (
        cues(
            "Lie down in bed and let the mattress take your whole weight.",
            "Let your eyes close, and let your arms rest by your sides. ~5",
            "Take a slow breath in, and a long, unhurried breath out. ~6",
        ),
        cues(
            "Settle into bed, pulling the covers up around you.",
            "Let the eyes close when they are ready. ~4",
            "Breathe in gently, and sigh the breath out. ~6",
        ),
    ),
    "morning": (
        cues(
            "Sit comfortably, with your back upright and your feet on the floor.",
            "Close your eyes, or rest your gaze softly on the floor ahead. ~4",
            "Take a full breath in, and let it go. ~5",
        ),
        cues(
            "Find a seat where you can sit tall and at ease.",
            "Let your hands rest on your thighs and close your eyes. ~4",
            "Breathe in through the nose, and out through the mouth. ~5",
        ),
    ),
    "any": (
        cues(
            "Find a position where you can be comfortable and at ease.",
            "Let your eyes close, or lower your gaze. ~4",
            "Take a slow breath in, and a long breath out. ~6",
        ),
        cues(
            "Make yourself comfortable, sitting or lying down.",
            "Close your eyes if that feels right. ~4",
            "Notice the breath moving in, and moving out. ~6",
        ),
    ),
}

#: how a piece meets the feeling the user named: stems of the feeling, then lines
FEELINGS: tuple[tuple[tuple[str, ...], tuple[Cue, ...]], ...] = (
    (
        ("anxi", "nervous", "worr", "stress", "panic", "scared", "afraid", "tense", "racing"),
        cues(
            "If there is worry in you right now, that is understandable.",
            "You do not need to push it away. Let it sit beside you while we breathe. ~6",
        ),
    ),
    (
        ("tired", "exhaust", "drained", "sleepy", "weary", "fatigue", "worn"),
        cues(
            "If you are tired, let this be a time when nothing more is asked of you.",
            "Let the tiredness be here, and let it soften. ~6",
        ),
    ),
    (
        ("restless", "agitat", "wired", "fidget", "can't settle", "jittery", "on edge"),
        cues(
            "If the body feels restless, let it move a little until it finds stillness.",
            "Restlessness is only the body looking for a place to settle. ~6",
        ),
    ),
    (
        ("sad", "low", "down", "depress", "lonely", "grie", "hurt", "heavy"),
        cues(
            "If your heart feels heavy, you are welcome here exactly as you are.",
            "Be as gentle with yourself as you would be with a friend. ~6",
        ),
    ),
    (
        ("angry", "frustrat", "irritat", "annoy", "furious", "resent"),
        cues(
            "If there is frustration in you, notice where it sits in the body.",
            "Breathe around it, giving it a little more room. ~6",
        ),
    ),
    (
        ("hope", "optimis", "excited", "happy", "good", "great", "positive", "motivated"),
        cues(
            "You arrive with some hope in you. Let us give it room to grow.",
            "Notice that good feeling, and breathe into it. ~6",
        ),
    ),
    (
        ("calm", "peace", "relaxed", "content", "fine", "okay", "ok", "settled"),
        cues(
            "You arrive already a little settled. Let us deepen that.",
            "Notice the ease that is already here. ~6",
        ),
    ),
)
NO_FEELING = cues(
    "However you arrive today is a fine place to begin.",
    "Let it be just as it is. ~6",
)

#: how a piece ends, by time of day
CLOSINGS: Mapping[str, tuple[tuple[Cue, ...], ...]] = {
    "bedtime": (
        cues(
            "There is nothing more to do now.",
            "Let the breath slow down on its own, softer and softer. ~10",
            "Let yourself drift, warm and heavy, into sleep. ~12",
            "Sleep well. ~15",
        ),
        cues(
            "Let go of the practice now. There is nothing left to follow.",
            "Your body is heavy, your mind is quiet. ~10",
            "Let sleep come and carry you. ~12",
            "Good night. ~15",
        ),
    ),
    "morning": (
        cues(
            "Now begin to deepen the breath, drawing in fresh energy.",
            "Wriggle the fingers and toes, and roll the shoulders. ~4",
            "Stretch in whatever way feels good. ~5",
            "When you are ready, open your eyes, and step into your day with energy and purpose.",
        ),
        cues(
            "Take one big breath in, and feel the body waking up.",
            "Move the hands and feet, and sit tall. ~4",
            "Open your eyes and notice the light around you. ~3",
            "Carry this clear, bright energy into everything you do today.",
        ),
    ),
    "any": (
        cues(
            "Slowly bring your attention back to the room around you.",
            "Notice the weight of your body, and the sounds nearby. ~5",
            "Move the fingers and toes gently. ~4",
            "When you are ready, open your eyes, and take this calm with you.",
        ),
        cues(
            "Now let the practice come to an end.",
            "Take a deeper breath, and feel where you are sitting or lying. ~5",
            "Gently open your eyes, taking your time. ~4",
            "Carry this steadiness with you into the rest of your day.",
        ),
    ),
}

#: what a bedtime piece never says: it would wake the listener
WAKING = re.compile(
    r"\b(open (?:your|the) eyes|awake|wak(?:e|ing)|energ\w*|alert|get up|stand up|"
    r"sit tall|step into your day)\b",
    re.IGNORECASE,
)
#: the same, in each language the library is translated into (see ``translation``)
_WAKING_IN: Mapping[str, re.Pattern[str]] = {
    "es": re.compile(
        r"\b(abr\w* (?:los|tus) ojos|despiert\w*|despert\w*|energ\w*|enérgic\w*|alerta\w*|"
        r"levánt\w*|levant\w*|ponte de pie|de pie|siéntate erguid\w*|erguid\w*|"
        r"empieza tu día|entra en tu día)",
        re.IGNORECASE,
    ),
    "de": re.compile(
        r"(öffne (?:die|deine) augen|augen öffnen|\bwach\b|wach werden|wird wach|aufwach\w*|"
        r"erwach\w*|energ\w*|belebend\w*|munter\w*|steh auf|aufstehen|aufrecht\w*|"
        r"in deinen tag)",
        re.IGNORECASE,
    ),
    "fr": re.compile(
        r"(ouvr\w* (?:les|tes) yeux|\béveill\w*|réveil\w*|énerg\w*|dynamis\w*|lève-toi|"
        r"te lever|debout|redresse-toi|bien droit|dos droit|entre dans ta journée)",
        re.IGNORECASE,
    ),
    "pt": re.compile(
        r"(abr\w* os olhos|despert\w*|acord\w*|energ\w*|alerta|levant\w*|fique de pé|"
        r"de pé|coluna ereta|eret[oa]|entre no seu dia)",
        re.IGNORECASE,
    ),
    "uk": re.compile(
        r"(розплющ\w*|відкри\w* очі|прокида\w*|прокин\w*|бадьор\w*|енергі\w*|енергійн\w*|"
        r"\bвстава\w*|\bвстань|підведи\w*|підводь\w*|сядь рівно|крокуй у свій день)",
        re.IGNORECASE,
    ),
    "tr": re.compile(
        r"(gözlerini aç\w*|\buyan\w*|enerji\w*|zinde\w*|canlan\w*|ayağa kalk\w*|\bkalk\b|"
        r"dik otur\w*|gününe\b.{0,30}adım at\w*)",
        re.IGNORECASE,
    ),
    "ru": re.compile(
        r"(откр\w* глаза|глаза откр\w*|просып\w*|просн\w*|бодр\w*|энерги\w*|энергич\w*|"
        r"\bвста\w*|сядь\w* прямо|выпрям\w*|шагни в свой день|начни свой день)",
        re.IGNORECASE,
    ),
}


def waking_in(language: str) -> re.Pattern[str]:
    """What a bedtime piece never says in ``language`` (English for one not listed)."""
    return _WAKING_IN.get(language, WAKING)


#: the sentences the composer builds around the library's lines, by kind of piece
WELCOMES: Mapping[str, str] = {
    "meditation": "Welcome to your {minutes}-minute meditation, {moment}.",
    "affirmations": "Welcome to your {minutes}-minute affirmations, {moment}.",
    "ritual": "Welcome to your {minutes}-minute ritual, {moment}.",
}
TITLES: Mapping[str, str] = {
    "meditation": "{minutes}-minute meditation · {subject}",
    "affirmations": "{minutes}-minute affirmations · {subject}",
    "ritual": "{minutes}-minute ritual · {subject}",
}
GREETING = "This is {bot}, here with you."
SIGN_OFF = "With care, {bot}."
HERE_FOR_YOU = "This time is here for you, {intention}."
RITUAL_FOR_YOU = "This ritual is here for you, {intention}."
#: the lines that lead into a theme's scene, ``{intention}`` naming what it is for
SCENE_LEADS = (
    "Now, {intention}, let the imagination help you.",
    "And {intention}, picture this with me.",
    "Next, {intention}, let an image form.",
)
#: the lines that lead more rounds of a technique's cycle, ``{technique}`` its name
ROUNDS_LEADS = (
    "Stay with {technique} for a few more rounds.",
    "Keep going with {technique}, at your own pace.",
    "A few more rounds of {technique}, steady and easy.",
)
#: short pauses between groups of affirmations
INTERLUDES = cues(
    "Pause here, and take a slow breath in, and a long breath out. ~6",
    "Let these words settle. Breathe in, and breathe out. ~6",
    "Notice how the body feels as you hear these words. ~6",
    "Rest for a moment, and let the breath be easy. ~6",
    "Feel the ground beneath you, steady and supportive. ~6",
    "Let your shoulders soften, and breathe. ~6",
    "Take a moment to feel these words in the body. ~6",
    "Breathe in something you need. Breathe out something you are ready to release. ~6",
)
AFFIRMATIONS_GUIDE = cues(
    "Let each affirmation land, then say it after me, silently or out loud, in the pause "
    "that follows. ~4"
)
#: a ritual's step of affirmations, and its step of sitting practice
AFFIRM_STEP = "Affirm"
AFFIRM_SUMMARY = "Say these slowly, letting each one land: {affirmations}"
AFFIRM_LEAD = "Now say these after me, slowly."
MEDITATE_STEP = "Meditate"
MEDITATE_SUMMARY = "Sit quietly, eyes closed, and follow {techniques}."
THEN = ", then "
#: a step of the written ritual, and about how long it takes
RITUAL_LINE = "{number}. {name} (about {length}): {summary}"
SECONDS = "{seconds} s"
MINUTES = "{minutes} min"


#: the techniques that help most with a feeling, by the first stem of its entry above
_HELPS: Mapping[str, frozenset[str]] = {
    "anxi": frozenset({"four-seven-eight", "box-breathing", "thought-stream", "senses-grounding"}),
    "tired": frozenset({"body-scan", "muscle-relaxation", "energising-breath", "sleep-countdown"}),
    "restless": frozenset({"muscle-relaxation", "breath-counting", "body-scan"}),
    "sad": frozenset({"loving-kindness", "heart-breath", "gratitude", "peaceful-place"}),
    "angry": frozenset({"breath-counting", "noting", "four-seven-eight", "box-breathing"}),
    "hope": frozenset({"gratitude", "mountain", "peaceful-place", "energising-breath"}),
    "calm": frozenset({"sound-awareness", "noting", "loving-kindness"}),
}


def feeling_lines(feeling: str, language: str = "en") -> tuple[Cue, ...]:
    """The lines that meet the feeling the user named (in English or ``language``), in
    the piece's own words."""
    stems = _feeling(feeling, language)
    return next((lines for kind, lines in FEELINGS if kind == stems), NO_FEELING)


def helps_with(feeling: str, language: str = "en") -> frozenset[str]:
    """The keys of the techniques that help most with the feeling the user named."""
    stems = _feeling(feeling, language)
    return _HELPS.get(stems[0], frozenset()) if stems else frozenset()


def _feeling(feeling: str, language: str) -> tuple[str, ...]:
    """The stems of the entry of :data:`FEELINGS` the feeling matches (empty if none)."""
    lowered = folded(feeling)
    local = FEELING_WORDS.get(language, {})
    for stems, _lines in FEELINGS:
        words = (*stems, *local.get(stems[0], ()))
        if any(re.search(rf"\b{re.escape(stem)}", lowered) for stem in words):
            return stems
    return ()
