"""French: the words the guided flow reads in French answers."""

from __future__ import annotations

from core.content import ContentType
from core.conversation.words.lexicon import Lexicon

LEXICON = Lexicon(
    language="fr",
    numbers={"une": 1, "vingt et une": 21, "trente et une": 31, "quarante et une": 41},
    fractions={
        "une demi heure": 30,
        "demi heure": 30,
        "un quart d'heure": 15,
        "quart d'heure": 15,
        "trois quarts d'heure": 45,
        "une heure": 60,
        "heure": 60,
    },
    minute_units=("min*",),
    hour_units=("heure*",),
    times={
        "morning": ("matin*", "matinee", "au reveil", "reveil", "petit dejeuner"),
        "midday": ("midi", "apres midi", "dejeuner", "journee", "au travail"),
        "evening": ("soir*", "apres le travail", "diner", "coucher du soleil"),
        "bedtime": (
            "nuit",
            "coucher",
            "au coucher",
            "avant de dormir",
            "avant de me coucher",
            "au lit",
            "pour dormir",
        ),
        "anytime": ("n'importe quand", "peu importe", "a tout moment", "toujours"),
    },
    feelings={
        "anxious": ("anxieux", "anxieuse", "angoiss*", "inquiet", "inquiete", "nerveu*", "peur"),
        "stressed": ("stresse", "stressee", "stresses", "sous pression", "debord*"),
        "tired": ("fatigue", "fatiguee", "epuise*", "creve*", "las", "lasse"),
        "restless": ("agite", "agitee", "nerveusement", "impatient*", "tendu*"),
        "sad": ("triste*", "deprime*", "abattu*", "seul", "seule", "cafard"),
        "angry": ("en colere", "enerve*", "fache*", "irrite*", "frustre*"),
        "hopeful": ("plein d'espoir", "pleine d'espoir", "optimiste*", "heureu*", "motivee"),
        "calm": ("calme*", "serein*", "detendu*", "apaise*", "zen", "bien"),
    },
    paces={
        "slow": ("lent", "lente", "lentement", "doux", "douce", "doucement", "calme"),
        "moderate": ("modere", "moderee", "moyen", "moyenne", "normal", "normale"),
        "lively": ("rapide*", "vif", "vive", "dynamique", "energique", "entrainant"),
    },
    voice={
        "on": ("oui", "audio", "voix", "avec audio", "ecouter", "audio et texte", "les deux"),
        "off": ("non", "texte", "texte seulement", "juste le texte", "sans audio", "sans voix"),
    },
    confirm=("oui", "d'accord", "ok", "vas y", "allez y", "cree", "creer", "cree la", "parfait"),
    back=("retour", "revenir", "precedent", "arriere", "en arriere"),
    cancel=("annuler", "annule", "arreter", "arrete", "stop", "laisse tomber", "quitter"),
    polite=("s'il vous plait", "s'il te plait", "merci", "stp", "svp"),
    content_names={
        ContentType.MEDITATION: ("meditation*", "mediter"),
        ContentType.AFFIRMATIONS: ("affirmation*",),
        ContentType.RITUAL: ("rituel*",),
    },
    content_hints={
        ContentType.MEDITATION: ("respiration*", "detente", "pleine conscience"),
        ContentType.AFFIRMATIONS: ("phrases positives",),
        ContentType.RITUAL: ("routine*", "ceremonie*", "habitude*"),
    },
    create_verbs=("veux", "voudrais", "aimerais", "fais", "faire", "cree", "creer", "donne"),
    question_words=("qu'est ce", "que", "quoi", "comment", "pourquoi", "quand", "ou", "quel"),
    field_words={
        "purpose": ("objectif", "intention", "sujet"),
        "time_of_day": ("heure de la journee",),
        "feeling": ("sentiment", "humeur"),
        "duration": ("duree", "minutes", "minute", "plus court", "plus long"),
        "pace": ("rythme", "vitesse"),
        "voice": ("voix", "audio"),
    },
    edit_verbs=("changer", "change", "modifier", "modifie", "plutot"),
)
