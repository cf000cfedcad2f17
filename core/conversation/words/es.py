"""Spanish: the words the guided flow reads in Spanish answers."""

from __future__ import annotations

from core.content import ContentType
from core.conversation.words.lexicon import Lexicon

LEXICON = Lexicon(
    language="es",
    numbers={"una": 1, "un": 1, "veintiun": 21, "un par": 2},
    fractions={
        "media hora": 30,
        "un cuarto de hora": 15,
        "cuarto de hora": 15,
        "tres cuartos de hora": 45,
        "una hora": 60,
        "hora": 60,
    },
    minute_units=("min*",),
    hour_units=("hora*",),
    times={
        "morning": ("manana", "por la manana", "al despertar*", "desayuno", "temprano"),
        "midday": ("mediodia", "al mediodia", "tarde", "por la tarde", "almuerzo", "en el trabajo"),
        "evening": (
            "anochecer",
            "atardecer",
            "cena",
            "despues del trabajo",
            "al salir del trabajo",
        ),
        "bedtime": (
            "noche",
            "por la noche",
            "antes de dormir",
            "antes de acostarme",
            "al acostarme",
            "dormir",
            "cama",
        ),
        "anytime": ("cualquier momento", "cuando sea", "a cualquier hora", "da igual", "siempre"),
    },
    feelings={
        "anxious": ("ansios*", "ansiedad", "nervios*", "preocupad*", "asustad*", "miedo"),
        "stressed": ("estresad*", "estres", "agobiad*", "presionad*"),
        "tired": ("cansad*", "agotad*", "exhaust*", "sin energia", "con sueno"),
        "restless": ("inquieto", "inquieta", "intranquil*", "agitad*"),
        "sad": ("triste*", "tristeza", "deprimid*", "desanimad*", "solitari*"),
        "angry": ("enojad*", "enfadad*", "furios*", "frustrad*", "irritad*", "rabia"),
        "hopeful": ("esperanzad*", "optimista*", "ilusionad*", "feliz", "contento", "contenta"),
        "calm": ("tranquil*", "calmad*", "relajad*", "en paz", "sereno", "serena", "bien"),
    },
    paces={
        "slow": ("lento", "lenta", "despacio", "lentamente", "suave", "pausado", "tranquilo"),
        "moderate": ("moderado", "moderada", "medio", "normal", "intermedio"),
        "lively": ("rapido", "rapida", "agil", "dinamico", "dinamica", "energico", "animado"),
    },
    voice={
        "on": ("si", "audio", "voz", "con audio", "escuchar", "audio y texto", "ambos"),
        "off": ("no", "texto", "solo texto", "sin audio", "sin voz", "leer"),
    },
    confirm=(
        "si",
        "vale",
        "de acuerdo",
        "claro",
        "adelante",
        "crea",
        "crealo",
        "creala",
        "crealas",
        "crear",
        "hazlo",
    ),
    back=("atras", "volver", "vuelve", "regresar", "anterior", "volver atras"),
    cancel=("cancelar", "cancela", "parar", "para", "salir", "olvidalo", "dejalo"),
    polite=("por favor", "gracias"),
    content_names={
        ContentType.MEDITATION: ("meditac*", "medita", "meditar"),
        ContentType.AFFIRMATIONS: ("afirmac*",),
        ContentType.RITUAL: ("ritual*",),
    },
    content_hints={
        ContentType.MEDITATION: ("respirac*", "relaj*", "atencion plena"),
        ContentType.AFFIRMATIONS: ("frases positivas",),
        ContentType.RITUAL: ("rutina*", "ceremonia*", "habito*"),
    },
    create_verbs=("quiero", "quisiera", "crea", "crear", "creame", "hazme", "haz", "dame"),
    question_words=("que", "como", "por que", "cuando", "donde", "cual", "quien"),
    field_words={
        "purpose": ("proposito", "objetivo", "intencion", "tema"),
        "time_of_day": ("momento", "hora del dia"),
        "feeling": ("sentimiento", "animo", "estado de animo"),
        "duration": ("duracion", "minutos", "minuto", "mas corto", "mas larga", "mas corta"),
        "pace": ("ritmo", "velocidad"),
        "voice": ("voz", "audio"),
    },
    edit_verbs=("cambiar", "cambia", "modificar", "modifica"),
)
