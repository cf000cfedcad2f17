"""Portuguese: the words the guided flow reads in Portuguese answers."""

from __future__ import annotations

from core.content import ContentType
from core.conversation.words.lexicon import Lexicon

LEXICON = Lexicon(
    language="pt",
    numbers={"uma": 1, "duas": 2, "vinte e uma": 21, "vinte e duas": 22, "um par": 2},
    fractions={
        "meia hora": 30,
        "um quarto de hora": 15,
        "quarto de hora": 15,
        "tres quartos de hora": 45,
        "uma hora": 60,
        "hora": 60,
    },
    minute_units=("min*",),
    hour_units=("hora*",),
    times={
        "morning": ("manha", "de manha", "pela manha", "ao acordar", "cafe da manha", "cedo"),
        "midday": ("meio dia", "ao meio dia", "tarde", "a tarde", "almoco", "no trabalho"),
        "evening": ("anoitecer", "entardecer", "jantar", "depois do trabalho", "fim do dia"),
        "bedtime": ("noite", "a noite", "antes de dormir", "ao deitar", "hora de dormir", "cama"),
        "anytime": ("qualquer hora", "qualquer momento", "tanto faz", "sempre"),
    },
    feelings={
        "anxious": ("ansios*", "ansiedade", "nervos*", "preocupad*", "com medo", "assustad*"),
        "stressed": ("estressad*", "stressad*", "estresse", "stress", "sobrecarregad*"),
        "tired": ("cansad*", "exaust*", "esgotad*", "sem energia", "com sono"),
        "restless": ("inquieto", "inquieta", "agitad*", "irrequiet*"),
        "sad": ("trist*", "deprimid*", "desanimad*", "sozinh*", "pra baixo"),
        "angry": ("irritad*", "com raiva", "zangad*", "frustrad*"),
        "hopeful": ("esperancos*", "otimista*", "animad*", "feliz", "motivad*"),
        "calm": ("calm*", "tranquil*", "relaxad*", "em paz", "sereno", "serena", "bem"),
    },
    paces={
        "slow": ("lento", "lenta", "devagar", "lentamente", "suave", "calmo"),
        "moderate": ("moderado", "moderada", "medio", "normal", "intermediario"),
        "lively": ("rapido", "rapida", "animado", "dinamico", "dinamica", "energico"),
    },
    voice={
        "on": ("sim", "audio", "voz", "com audio", "ouvir", "audio e texto", "ambos"),
        "off": ("nao", "texto", "so texto", "apenas texto", "sem audio", "sem voz", "ler"),
    },
    confirm=("sim", "claro", "pode", "pode criar", "cria", "criar", "crie", "faz", "faca", "bora"),
    back=("voltar", "volta", "anterior", "atras"),
    cancel=("cancelar", "cancela", "parar", "sair", "esquece", "deixa"),
    polite=("por favor", "obrigado", "obrigada"),
    content_names={
        ContentType.MEDITATION: ("meditac*", "meditar"),
        ContentType.AFFIRMATIONS: ("afirmac*",),
        ContentType.RITUAL: ("ritual", "rituais"),
    },
    content_hints={
        ContentType.MEDITATION: ("respirac*", "relaxa*", "atencao plena"),
        ContentType.AFFIRMATIONS: ("frases positivas",),
        ContentType.RITUAL: ("rotina*", "cerimonia*", "habito*"),
    },
    create_verbs=("quero", "queria", "gostaria", "cria", "crie", "criar", "faz", "faca", "fazer"),
    question_words=("o que", "que", "como", "por que", "porque", "quando", "onde", "qual"),
    field_words={
        "purpose": ("proposito", "objetivo", "intencao", "tema"),
        "time_of_day": ("momento", "horario"),
        "feeling": ("sentimento", "humor"),
        "duration": ("duracao", "minutos", "minuto", "mais curto", "mais longo"),
        "pace": ("ritmo", "velocidade"),
        "voice": ("voz", "audio"),
    },
    edit_verbs=("mudar", "muda", "alterar", "altera", "trocar", "troca"),
)
