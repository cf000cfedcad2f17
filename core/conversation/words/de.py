"""German: the words the guided flow reads in German answers."""

from __future__ import annotations

from core.content import ContentType
from core.conversation.words.lexicon import Lexicon

LEXICON = Lexicon(
    language="de",
    numbers={"ein": 1, "eine": 1, "einer": 1, "paar": 2},
    fractions={
        "halbe stunde*": 30,
        "halbstund*": 30,
        "viertelstund*": 15,
        "viertel stunde*": 15,
        "dreiviertelstund*": 45,
        "dreiviertel stunde*": 45,
        "drei viertel stunde*": 45,
        "stunde": 60,
    },
    minute_units=("min*",),
    hour_units=("std", "stunde*"),
    times={
        "morning": ("morgen*", "fruh", "fruhmorgens", "vormittag*", "nach dem aufstehen"),
        "midday": ("mittag*", "nachmittag*", "mittagspause", "tagsuber", "bei der arbeit"),
        "evening": ("abend*", "nach der arbeit", "feierabend"),
        "bedtime": (
            "nacht*",
            "vor dem schlafen*",
            "vor dem einschlafen",
            "schlafenszeit",
            "zum einschlafen",
            "im bett",
            "bett",
        ),
        "anytime": ("egal", "jederzeit", "immer", "wann immer"),
    },
    feelings={
        "anxious": ("angst*", "angstlich*", "nervos*", "besorgt", "sorgen", "beunruhigt"),
        "stressed": ("gestresst", "stress", "uberfordert", "unter druck", "uberlastet"),
        "tired": ("mude", "erschopft*", "ausgelaugt", "schlapp", "kaputt", "erledigt"),
        "restless": ("unruhig*", "rastlos*", "zappelig*", "hibbelig", "getrieben"),
        "sad": ("traurig*", "niedergeschlagen*", "deprimiert*", "einsam*", "bedruckt"),
        "angry": ("wutend", "verargert", "sauer", "gereizt*", "genervt", "frustriert*"),
        "hopeful": ("hoffnungsvoll*", "zuversichtlich*", "optimistisch*", "glucklich*", "froh"),
        "calm": ("ruhig*", "entspannt*", "gelassen*", "ausgeglichen*"),
    },
    paces={
        "slow": ("langsam*", "gemachlich*", "sanft", "ruhig"),
        "moderate": ("mittel*", "normal", "maßig", "gemaßigt*", "durchschnittlich"),
        "lively": ("schnell*", "lebhaft*", "zugig", "flott", "dynamisch", "energisch"),
    },
    voice={
        "on": (
            "ja",
            "audio",
            "stimme",
            "mit audio",
            "horen",
            "anhoren",
            "audio und text",
            "beides",
        ),
        "off": ("nein", "text", "nur text", "ohne audio", "ohne stimme", "lesen"),
    },
    confirm=(
        "ja",
        "jawohl",
        "genau",
        "gerne",
        "erstellen",
        "erstelle",
        "erstell es",
        "los",
        "mach",
    ),
    back=("zuruck", "zurueck", "zuruckgehen", "vorherige"),
    cancel=("abbrechen", "abbruch", "stopp", "aufhoren", "beenden", "vergiss es"),
    polite=("bitte", "danke"),
    content_names={
        ContentType.MEDITATION: ("meditation*", "meditieren"),
        ContentType.AFFIRMATIONS: ("affirmation*",),
        ContentType.RITUAL: ("ritual*",),
    },
    content_hints={
        ContentType.MEDITATION: ("atem*", "entspann*", "achtsam*"),
        ContentType.AFFIRMATIONS: ("positive satze", "glaubenssatz*"),
        ContentType.RITUAL: ("routine*", "zeremonie*", "gewohnheit*"),
    },
    create_verbs=("mochte", "will", "brauche", "mach", "mache", "erstelle", "erstell", "gib"),
    question_words=("was", "wie", "warum", "wann", "wo", "welche", "welcher", "wer", "ist"),
    field_words={
        "purpose": ("zweck", "ziel", "absicht", "thema"),
        "time_of_day": ("tageszeit", "zeit"),
        "feeling": ("gefuhl", "stimmung"),
        "duration": ("dauer", "lange", "minuten", "minute", "kurzer", "langer"),
        "pace": ("tempo", "geschwindigkeit"),
        "voice": ("stimme", "audio"),
    },
    edit_verbs=("andern", "andere", "anderung", "stattdessen"),
)
