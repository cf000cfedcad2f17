"""What a purpose or a feeling says in the library's other languages, as word stems.

The English keywords live with the themes and the feelings; here are the stems a user
writes in another language ("entrevist" finds "entrevista" and "entrevistas"), matched
at the start of a word like the English ones, and the words that name when the moment
is ("mañana" -> "tomorrow's"). A purpose is matched in every language at once: a user
may write in another language than the one they chose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def _stems(spelled: str) -> tuple[str, ...]:
    """Stems written as one string, ``|`` between them (a stem may be a phrase)."""
    return tuple(spelled.split("|"))


#: stems of each theme's keywords, by theme key, in every translated language
THEME_WORDS: Mapping[str, tuple[str, ...]] = {
    "interview": _stems(
        "entrevist|proceso de selección|reclutamiento|audición|casting|"
        "собеседован|интервью|кастинг|прослушиван|отбор на"
    ),
    "public_speaking": _stems(
        "hablar en público|discurso|presentación|exponer|exposición|charla|conferencia|"
        "ponencia|escenario|brindis|delante de la gente|en público|"
        "выступлен|выступа|публичн|презентац|доклад|речь|речи|сцен|аудитори|тост|лекци"
    ),
    "sleep": _stems(
        "dormir|duerm|sueño|insomnio|cama|noche|descans|desvel|conciliar|"
        "сон|спать|сплю|засып|усну|бессонниц|кроват|постел|ночь|ночью|выспат|высып"
    ),
    "calm": _stems(
        "estrés|estres|ansi|preocup|calma|tranquil|agobi|nervios|pánico|panico|relaj|"
        "paz|miedo|tensión|tens|angusti|no para de pensar|mente acelerada|"
        "стресс|тревог|беспоко|волну|спокой|паник|напряж|расслаб|нерв|страх|боюсь|мысли скачут"
    ),
    "focus": _stems(
        "concentr|enfoc|estudi|examen|exámenes|distra|claridad|atención|productiv|"
        "procrastin|oposicion|"
        "концентр|сосредоточ|фокус|учёб|учеб|учиться|экзамен|сессия|отвлека|ясност|внимани|продуктивн|прокрастин"
    ),
    "confidence": _stems(
        "confianza|seguridad en mí|valentía|coraje|atrev|tímid|timidez|insegur|"
        "dudo de mí|creer en mí|"
        "уверенн|смелост|смел|храбр|неуверен|сомнева|застенчив|робост|верить в себя|поверить в себя"
    ),
    "self_worth": _stems(
        "autoestima|valía|quererme|amor propio|aceptarme|merezc|autocompasi|"
        "crítico interior|crítica interior|no soy suficiente|"
        "самооценк|ценност|любить себя|любовь к себе|принять себя|принятие себя|"
        "заслужива|достоин|достойн|самокритик|внутренний критик"
    ),
    "career": _stems(
        "trabajo|empleo|carrera profesional|jefe|jefa|compañeros de trabajo|ascenso|negocio|"
        "oficina|plazo|reunión|equipo|laboral|"
        "работ|карьер|начальни|босс|коллег|повышени|бизнес|офис|дедлайн|совещани|команд"
    ),
    "relationships": _stems(
        "relaci|pareja|amig|familia|matrimonio|marido|esposo|esposa|soledad|ruptura|"
        "hijos|hijas|niños|padre|madre|herman|discusi|conflicto|novi|"
        "отношени|партнёр|партнер|друзья|друзей|подруг|дружб|семь|брак|мужем|мужа|жена|жены|женой|одиночеств|одинок|расставан|разрыв|дети|детей|ребён|ребен|родител|мама|мамой|отец|папа|сестр|брат|ссор|конфликт"
    ),
    "health": _stems(
        "salud|sanar|curar|cuerpo|dolor|enferm|recuper|ejercicio|peso|operación|cirugía|"
        "crónic|inmun|"
        "здоров|исцелен|лечени|тело|тела|болит|болезн|болею|восстановл|фитнес|спорт|питани|операци|хронич|иммун"
    ),
    "gratitude": _stems(
        "gratitud|agradec|gracias|aprecia|bendici|благодарн|спасибо|ценить|признательн"
    ),
    "abundance": _stems(
        "dinero|abundancia|riqueza|prosperidad|finanz|financier|deuda|éxito|ingresos|"
        "sueldo|salario|manifest|"
        "деньг|денег|изобили|богатств|достат|процветани|финанс|долги|долгов|успех|доход|зарплат|манифест"
    ),
    "resilience": _stems(
        "resilien|duelo|pérdida|perdí|momento difícil|difícil|recaída|afrontar|fuerza|"
        "fracaso|corazón roto|desamor|cambio|luto|"
        "стойкост|горе|утрат|потер|тяжёл|тяжел|трудн|неудач|справит|справля|провал|разбито|перемен"
    ),
}

#: when the moment is, in the translated languages: a pattern, and how the English
#: names it (checked in order, so "esta mañana" is today before "mañana" is tomorrow)
OCCASION_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\besta mañana\b"), "today's"),
    (re.compile(r"(?<!la )(?<!esta )(?<!cada )\bmañana\b"), "tomorrow's"),
    (re.compile(r"\besta noche\b"), "tonight's"),
    (re.compile(r"\bhoy\b"), "today's"),
    (re.compile(r"\besta semana\b"), "this week's"),
    (re.compile(r"\b(?:la semana que viene|la próxima semana|la semana próxima)\b"), "next week's"),
    (re.compile(r"\bзавтра"), "tomorrow's"),
    (re.compile(r"\b(?:сегодня вечером|вечером)\b"), "tonight's"),
    (re.compile(r"\bсегодня"), "today's"),
    (re.compile(r"\bна этой неделе\b"), "this week's"),
    (re.compile(r"\bна следующей неделе\b"), "next week's"),
)

#: stems of each feeling, by the first English stem of its entry in ``frames.FEELINGS``
FEELING_WORDS: Mapping[str, tuple[str, ...]] = {
    "anxi": _stems(
        "ansi|nervios|preocup|estres|estrés|pánico|miedo|asustad|tens|agobi|"
        "тревож|тревог|волну|нервн|нервнич|беспоко|стресс|паник|страш|боюсь|напряж"
    ),
    "tired": _stems(
        "cansad|agotad|exhaust|sin fuerzas|sin energía|"
        "устал|устав|измотан|вымотан|сонн|нет сил|без сил"
    ),
    "restless": _stems(
        "inquiet|agitad|intranquil|no puedo parar|неспокой|взвинч|не могу усидеть|суетлив|дёрган"
    ),
    "sad": _stems(
        "triste|deprim|dolid|bajón|desanim|apenad|me siento sol|"
        "грус|печал|тоск|одинок|депресс|подавлен|горе|тяжело на душе"
    ),
    "angry": _stems(
        "enfad|enoj|frustr|irrit|molest|rabia|furios|resentid|"
        "злюсь|злость|злой|раздраж|бесит|бешен|фрустр"
    ),
    "hope": _stems(
        "esperanz|optimis|ilusi|feliz|motivad|alegr|content|"
        "надежд|надею|оптимис|радост|счастлив|вдохнов|мотивир|хорош"
    ),
    "calm": _stems(
        "tranquil|calma|en paz|relajad|seren|спокой|умиротвор|расслабл|в порядке|нормально"
    ),
}
