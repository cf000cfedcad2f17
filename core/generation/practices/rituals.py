"""Ritual steps: concrete things to do, each with the words that guide it.

A step says what it is for in one line (the written ritual) and guides it line by line
(the audio). ``times`` are the times of day it belongs to; ``order`` places it in a
ritual (preparing first, closing last).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.generation.practices.model import Cue, cues

ALL_DAY = frozenset({"morning", "midday", "evening", "bedtime", "anytime"})
DAYTIME = frozenset({"morning", "midday", "anytime"})
WINDING_DOWN = frozenset({"evening", "bedtime"})


@dataclass(frozen=True, slots=True)
class RitualStep:
    """One step of a ritual: its name, what to do, the guided lines, when it fits."""

    key: str
    name: str
    summary: str
    lines: tuple[Cue, ...]
    times: frozenset[str]
    order: int


STEPS: tuple[RitualStep, ...] = (
    RitualStep(
        "prepare-morning",
        "Prepare",
        "Open a window or a curtain to let the daylight in, and put your phone out of reach.",
        cues(
            "Begin by opening a window or a curtain, and let the daylight in. ~8",
            "Put your phone face down, somewhere out of reach. ~5",
            "This time is yours, before the day asks anything of you. ~4",
        ),
        frozenset({"morning"}),
        0,
    ),
    RitualStep(
        "prepare-evening",
        "Prepare",
        "Dim the lights, light a candle or a small lamp, and put your phone away.",
        cues(
            "Begin by dimming the lights around you. ~6",
            "If you like, light a candle or a small lamp, a sign that the day is closing. ~8",
            "Put your phone away, on silent, in another room if you can. ~6",
        ),
        WINDING_DOWN,
        0,
    ),
    RitualStep(
        "prepare-any",
        "Prepare",
        "Clear a small space, silence your phone and sit somewhere you will not be disturbed.",
        cues(
            "Clear a small space around you, and silence your phone. ~6",
            "Choose somewhere you will not be disturbed for a while. ~5",
            "Mark this time as different from the rest of the day. ~4",
        ),
        frozenset({"midday", "anytime"}),
        0,
    ),
    RitualStep(
        "water",
        "Water",
        "Drink a full glass of water slowly, noticing its coolness.",
        cues(
            "Pour yourself a glass of water. ~8",
            "Drink it slowly, in small sips, noticing the coolness. ~12",
            "Feel it refresh the body after the night. ~6",
        ),
        frozenset({"morning", "midday"}),
        1,
    ),
    RitualStep(
        "tea",
        "Warm drink",
        "Make a warm caffeine-free drink and hold the cup in both hands.",
        cues(
            "Make yourself a warm drink without caffeine: herbal tea or warm milk. ~15",
            "Hold the cup in both hands and feel its warmth. ~6",
            "Breathe in the steam, and take the first slow sip. ~8",
            "Let each sip be a small pause. ~10",
        ),
        WINDING_DOWN,
        1,
    ),
    RitualStep(
        "arrive",
        "Arrive",
        "Sit still, name how you feel, and take three slow breaths.",
        cues(
            "Sit comfortably, and let your body be still. ~4",
            "Silently name how you feel right now, in one or two words. ~6",
            "Now three slow breaths. Breathe in. ~3",
            "And out. ~3",
            "In again, a little deeper. ~3",
            "And out, a little longer. ~3",
            "Once more in. ~3",
            "And let it all go. ~5",
        ),
        ALL_DAY,
        2,
    ),
    RitualStep(
        "stretch-morning",
        "Move",
        "Stretch: reach up, fold forward, roll the shoulders, twist gently each way.",
        cues(
            "Stand up and reach both arms towards the ceiling. ~5",
            "Stretch up onto the toes if you can, and breathe. ~5",
            "Now fold forward slowly, letting the head and arms hang. ~8",
            "Roll up one vertebra at a time. ~6",
            "Roll the shoulders back five times. ~8",
            "Twist gently to the right, and then to the left. ~8",
            "Shake out the hands and feel the energy moving. ~5",
        ),
        DAYTIME,
        3,
    ),
    RitualStep(
        "stretch-evening",
        "Unwind",
        "Stretch gently: neck, shoulders, then a slow forward fold to release the day.",
        cues(
            "Let your head tilt gently towards the right shoulder. ~8",
            "And slowly to the left. ~8",
            "Roll the shoulders back, slowly, three times. ~8",
            "Now fold forward gently from where you sit, and let the arms hang. ~10",
            "Feel the back lengthen as you breathe. ~8",
            "Come up slowly, and notice how the body feels now. ~6",
        ),
        WINDING_DOWN,
        3,
    ),
    RitualStep(
        "hands",
        "Soothe",
        "Massage your hands and then your temples slowly, to release held tension.",
        cues(
            "Rub your palms together until they feel warm. ~6",
            "Press the thumb of one hand into the palm of the other, in slow circles. ~10",
            "Switch hands. ~10",
            "Now rest the fingertips on your temples and make small, slow circles. ~10",
            "Let the forehead and the jaw soften. ~8",
        ),
        ALL_DAY,
        4,
    ),
    RitualStep(
        "breath",
        "Breathe",
        "Breathe in for four counts and out for six, ten times.",
        cues(
            "Breathe in for four counts, and out for six. ~10",
            "Keep this rhythm: in for four. ~4",
            "Out for six. ~6",
            "Longer out-breaths tell the body it is safe. ~10",
            "Keep breathing like this on your own for a few more rounds. ~15",
        ),
        ALL_DAY,
        5,
    ),
    RitualStep(
        "intention",
        "Intention",
        'Say your intention for the day out loud, once, slowly: "{affirmation}"',
        cues(
            "Now set an intention for the day ahead. ~3",
            "Say it out loud, once, slowly. {affirmation} ~8",
            "Say it once more, and feel it in the body. ~8",
        ),
        DAYTIME,
        6,
    ),
    RitualStep(
        "intention-evening",
        "Intention",
        'Say one sentence to carry into the night, quietly: "{affirmation}"',
        cues(
            "Now choose one sentence to carry with you tonight. ~3",
            "Say it quietly. {affirmation} ~8",
            "Let it settle, like a stone sinking gently to the bottom of a pond. ~8",
        ),
        WINDING_DOWN,
        6,
    ),
    RitualStep(
        "plan",
        "Plan",
        "Write down the one thing that matters most today, and the first small step towards it.",
        cues(
            "Take a pen and paper. ~6",
            "Write down the one thing that matters most today. ~15",
            "Now write the first small step towards it. ~15",
            "Picture yourself taking that step, later today. ~10",
        ),
        DAYTIME,
        7,
    ),
    RitualStep(
        "unload",
        "Unload",
        "Write down whatever is on your mind, then tomorrow's first task, and close the notebook.",
        cues(
            "Take a notebook and a pen. ~6",
            "Write down whatever is still on your mind, without sorting it. ~20",
            "Keep writing until it feels lighter. ~20",
            "Now write the first thing to do tomorrow, so you do not need to hold it. ~15",
            "Close the notebook. It will be there in the morning. ~6",
        ),
        WINDING_DOWN,
        7,
    ),
    RitualStep(
        "gratitude",
        "Gratitude",
        "Name three things you are grateful for, and why.",
        cues(
            "Bring to mind three things you are grateful for. ~3",
            "The first. Let yourself feel why it matters. ~12",
            "The second. ~12",
            "And the third, perhaps something small. ~12",
        ),
        ALL_DAY,
        8,
    ),
    RitualStep(
        "tidy",
        "Tidy",
        "Put three things back where they belong, so tomorrow starts in order.",
        cues(
            "Look around you, and choose three things that are out of place. ~6",
            "Put the first one back where it belongs. ~12",
            "Then the next one. ~12",
            "And the third. Notice the small order you have made. ~10",
        ),
        frozenset({"evening", "midday", "anytime"}),
        8,
    ),
    RitualStep(
        "close-morning",
        "Close",
        "Take one energising breath, smile, and step into your day.",
        cues(
            "Take one big breath in, and lift the arms as you do. ~3",
            "Breathe out, and let the arms float down. ~3",
            "Thank yourself for this time, and step into your day with energy.",
        ),
        frozenset({"morning"}),
        9,
    ),
    RitualStep(
        "close-bedtime",
        "Rest",
        "Put out the light, lie down, and let your breath slow down.",
        cues(
            "Put out the candle or the light. ~6",
            "Lie down and let the bed hold you. ~8",
            "Let the breath slow, and let the day be complete. ~10",
            "Sleep well. ~10",
        ),
        frozenset({"bedtime"}),
        9,
    ),
    RitualStep(
        "close-any",
        "Close",
        "Put out the candle or close the window, and thank yourself for showing up.",
        cues(
            "Put out the candle, or close the window. ~5",
            "Take one last slow breath. ~5",
            "Thank yourself for showing up for this ritual.",
        ),
        frozenset({"midday", "evening", "anytime"}),
        9,
    ),
)
