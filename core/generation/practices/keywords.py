"""What a purpose or a feeling says in the library's other languages, as word stems.

The English keywords live with the themes and the feelings; here are the stems a user
writes in each translated language ("entrevist" finds "entrevista" and "entrevistas"),
``|`` between them and matched at the start of a word like the English ones, and the
words that name when the moment is ("mañana" -> "tomorrow's"). A purpose is matched in
the user's language (with the English keywords, which always count).
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def folded(text: str) -> str:
    """Text lowered for matching stems: Turkish "İ" lowers to "i" plus a combining dot,
    which would keep "İş" from matching "iş"."""
    return text.lower().replace("i\u0307", "i")


#: Spanish, by theme key
_ES_THEMES: Mapping[str, str] = {
    "interview": "entrevist|proceso de selección|reclutamiento|audición|casting",
    "public_speaking": (
        "hablar en público|discurso|presentación|exponer|exposición|charla|conferencia|"
        "ponencia|escenario|brindis|delante de la gente|en público"
    ),
    "sleep": "dormir|duerm|sueño|insomnio|cama|noche|descans|desvel|conciliar",
    "calm": (
        "estrés|estres|ansi|preocup|calma|tranquil|agobi|nervios|pánico|panico|relaj|paz|"
        "miedo|tensión|tens|angusti|no para de pensar|mente acelerada"
    ),
    "focus": (
        "concentr|enfoc|estudi|examen|exámenes|distra|claridad|atención|productiv|"
        "procrastin|oposicion"
    ),
    "confidence": (
        "confianza|seguridad en mí|valentía|coraje|atrev|tímid|timidez|insegur|dudo de mí|"
        "creer en mí"
    ),
    "self_worth": (
        "autoestima|valía|quererme|amor propio|aceptarme|merezc|autocompasi|"
        "crítico interior|crítica interior|no soy suficiente"
    ),
    "career": (
        "trabajo|empleo|carrera profesional|jefe|jefa|compañeros de trabajo|ascenso|"
        "negocio|oficina|plazo|reunión|equipo|laboral"
    ),
    "relationships": (
        "relaci|pareja|amig|familia|matrimonio|marido|esposo|esposa|soledad|ruptura|hijos|"
        "hijas|niños|padre|madre|herman|discusi|conflicto|novi"
    ),
    "health": (
        "salud|sanar|curar|cuerpo|dolor|enferm|recuper|ejercicio|peso|operación|cirugía|"
        "crónic|inmun"
    ),
    "gratitude": "gratitud|agradec|gracias|aprecia|bendici",
    "abundance": (
        "dinero|abundancia|riqueza|prosperidad|finanz|financier|deuda|éxito|ingresos|"
        "sueldo|salario|manifest"
    ),
    "resilience": (
        "resilien|duelo|pérdida|perdí|momento difícil|difícil|recaída|afrontar|fuerza|"
        "fracaso|corazón roto|desamor|cambio|luto"
    ),
}

#: Russian, by theme key
_RU_THEMES: Mapping[str, str] = {
    "interview": "собеседован|интервью|кастинг|прослушиван|отбор на",
    "public_speaking": (
        "выступлен|выступа|публичн|презентац|доклад|речь|речи|сцен|аудитори|тост|лекци"
    ),
    "sleep": "сон|спать|сплю|засып|усну|бессонниц|кроват|постел|ночь|ночью|выспат|высып",
    "calm": (
        "стресс|тревог|беспоко|волну|спокой|паник|напряж|расслаб|нерв|страх|боюсь|мысли скачут"
    ),
    "focus": (
        "концентр|сосредоточ|фокус|учёб|учеб|учиться|экзамен|сессия|отвлека|ясност|"
        "внимани|продуктивн|прокрастин"
    ),
    "confidence": (
        "уверенн|смелост|смел|храбр|неуверен|сомнева|застенчив|робост|верить в себя|поверить в себя"
    ),
    "self_worth": (
        "самооценк|ценност|любить себя|любовь к себе|принять себя|принятие себя|заслужива|"
        "достоин|достойн|самокритик|внутренний критик"
    ),
    "career": "работ|карьер|начальни|босс|коллег|повышени|бизнес|офис|дедлайн|совещани|команд",
    "relationships": (
        "отношени|партнёр|партнер|друзья|друзей|подруг|дружб|семь|брак|мужем|мужа|жена|"
        "жены|женой|одиночеств|одинок|расставан|разрыв|дети|детей|ребён|ребен|родител|"
        "мама|мамой|отец|папа|сестр|брат|ссор|конфликт"
    ),
    "health": (
        "здоров|исцелен|лечени|тело|тела|болит|болезн|болею|восстановл|фитнес|спорт|"
        "питани|операци|хронич|иммун"
    ),
    "gratitude": "благодарн|спасибо|ценить|признательн",
    "abundance": (
        "деньг|денег|изобили|богатств|достат|процветани|финанс|долги|долгов|успех|доход|"
        "зарплат|манифест"
    ),
    "resilience": (
        "стойкост|горе|утрат|потер|тяжёл|тяжел|трудн|неудач|справит|справля|провал|разбито|перемен"
    ),
}

#: German, by theme key
_DE_THEMES: Mapping[str, str] = {
    "interview": "vorstellungsgespräch|bewerbungsgespräch|bewerbung|jobinterview|vorsprechen",
    "public_speaking": (
        "vortrag|rede|präsentation|präsentier|vor publikum|öffentlich sprechen|vor leuten|"
        "bühne|publikum|referat|vorlesung"
    ),
    "sleep": "schlaf|einschlaf|durchschlaf|schlaflos|bett|nacht|ausruh|erholung",
    "calm": (
        "stress|angst|ängst|sorge|ruhe|ruhig|überforder|anspann|panik|entspann|nervös|"
        "grübel|gedankenkarussell|frieden|furcht"
    ),
    "focus": (
        "konzentr|fokus|lernen|studium|prüfung|klausur|ablenk|klarheit|aufmerksam|"
        "produktiv|prokrastin|aufschieb"
    ),
    "confidence": (
        "selbstvertrauen|selbstbewusst|mutig|mehr mut|den mut|tapfer|an mich glauben|"
        "selbstzweifel|zweifel|schüchtern|unsicher"
    ),
    "self_worth": (
        "selbstwert|mich lieben|selbstliebe|mich annehmen|selbstannahme|verdien|"
        "selbstmitgefühl|innerer kritiker|nicht gut genug"
    ),
    "career": "arbeit|beruf|karriere|chef|kolleg|beförderung|geschäft|büro|besprechung",
    "relationships": (
        "beziehung|partner|freund|familie|ehemann|ehefrau|meine ehe|mein mann|meinem mann|"
        "meine frau|meiner frau|einsam|trennung|kinder|eltern|mutter|vater|geschwister|"
        "schwester|bruder|streit|konflikt"
    ),
    "health": (
        "gesundheit|gesund|heilung|heilen|körper|schmerz|krankheit|krank|genes|abnehm|"
        "gewicht|operation|chronisch|immun"
    ),
    "gratitude": "dankbar|danke|wertschätz|segen|zufrieden",
    "abundance": "geld|fülle|wohlstand|reichtum|schulden|erfolg|einkommen|gehalt",
    "resilience": (
        "resilienz|trauer|verlust|verloren|schwere zeit|schwierig|rückschlag|bewältig|"
        "stärke|kraft|scheitern|liebeskummer|veränderung"
    ),
}

#: French, by theme key
_FR_THEMES: Mapping[str, str] = {
    "interview": "entretien|embauche|recrutement|audition|casting",
    "public_speaking": (
        "prise de parole|parler en public|discours|présentation|exposé|conférence|scène|"
        "public|oral|toast"
    ),
    "sleep": "sommeil|dormir|dors|endormi|insomnie|lit|nuit|repos|reposer",
    "calm": (
        "stress|anxi|angoiss|inquiet|inquiét|calme|tension|tendu|panique|détendre|nerveu|"
        "paix|peur|débordé|submergé|rumin|pensées qui tournent"
    ),
    "focus": (
        "concentr|étudi|études|examen|partiel|distrait|distraction|clarté|attention|"
        "productiv|procrastin|révision"
    ),
    "confidence": (
        "confiance en moi|confiance en soi|assurance|courage|oser|timid|doute|manque de confiance"
    ),
    "self_worth": (
        "estime de soi|m'aimer|amour de soi|m'accepter|mérite|autocompassion|"
        "critique intérieur|pas assez bien"
    ),
    "career": (
        "travail|boulot|emploi|carrière|patron|chef|collègue|promotion|entreprise|bureau|"
        "réunion|équipe|échéance"
    ),
    "relationships": (
        "relation|couple|partenaire|ami|famille|mariage|mari|femme|solitude|seul|rupture|"
        "enfants|parents|mère|père|frère|sœur|dispute|conflit"
    ),
    "health": ("santé|guérir|guérison|corps|douleur|malad|récupér|poids|opération|chronique|immun"),
    "gratitude": "gratitude|reconnaissan|merci|remercier|apprécier|bénédiction",
    "abundance": (
        "argent|abondance|richesse|prospérité|financ|dette|réussite|succès|revenu|salaire"
    ),
    "resilience": (
        "résilien|deuil|perte|période difficile|difficile|épreuve|échec|chagrin|changement|"
        "surmonter|force"
    ),
}

#: Portuguese, by theme key
_PT_THEMES: Mapping[str, str] = {
    "interview": "entrevista|processo seletivo|seleção|recrutamento|audição",
    "public_speaking": (
        "falar em público|apresentação|palestra|discurso|plateia|palco|seminário|brinde"
    ),
    "sleep": "dormir|durmo|sono|insônia|insonia|cama|noite|descans|pegar no sono",
    "calm": (
        "estresse|ansi|preocup|calma|tranquil|sobrecarreg|tenso|tensão|pânico|relax|nervos|"
        "paz|medo|cabeça a mil|angústia"
    ),
    "focus": (
        "foco|focar|concentr|estud|prova|vestibular|concurso|distra|clareza|atenção|"
        "produtiv|procrastin"
    ),
    "confidence": (
        "confiança|autoconfiança|coragem|corajos|tímid|timidez|insegur|acreditar em mim|dúvida"
    ),
    "self_worth": (
        "autoestima|valor próprio|me amar|amor-próprio|amor próprio|me aceitar|mereç|"
        "autocompaixão|crítico interno|não sou suficiente"
    ),
    "career": (
        "trabalho|emprego|carreira|chefe|colega|promoção|negócio|escritório|prazo|reunião|equipe"
    ),
    "relationships": (
        "relacionamento|relação|parceir|namor|amig|família|casamento|marido|esposa|mulher|"
        "solidão|sozinh|término|filhos|pais|mãe|pai|irm|briga|conflito"
    ),
    "health": (
        "saúde|curar|cura|corpo|dor|doença|doente|recuper|exercício|peso|cirurgia|crônic|imun"
    ),
    "gratitude": "gratidão|grato|grata|agradec|obrigad|bênção",
    "abundance": ("dinheiro|abundância|riqueza|prosperidade|finanç|dívida|sucesso|renda|salário"),
    "resilience": (
        "resiliên|luto|perda|perdi|fase difícil|difícil|superar|fracasso|força|"
        "coração partido|mudança"
    ),
}

#: Ukrainian, by theme key
_UK_THEMES: Mapping[str, str] = {
    "interview": "співбесід|інтерв'ю|кастинг|прослуховуван|відбір",
    "public_speaking": "виступ|публічн|презентац|доповід|промов|сцен|аудиторі|тост|лекці",
    "sleep": "сон|спати|сплю|засн|засина|безсоння|ліжк|ніч|вночі|виспат|висип",
    "calm": (
        "стрес|тривог|хвилю|спокі|паніка|паніки|напруг|розслаб|нерв|страх|боюся|думки скачуть"
    ),
    "focus": (
        "концентр|зосередж|фокус|навчан|вчитися|іспит|сесія|відволіка|ясніст|уваг|"
        "продуктивн|прокрастин"
    ),
    "confidence": "впевнен|сміливіст|сміли|хоробр|невпевнен|сумнів|сором'язл|вірити в себе",
    "self_worth": (
        "самооцін|цінніст|любити себе|любов до себе|прийняти себе|прийняття себе|заслугов|"
        "гідн|самокритик|внутрішній критик"
    ),
    "career": "робот|кар'єр|начальни|бос|колег|підвищен|бізнес|офіс|дедлайн|нарад|команд",
    "relationships": (
        "стосунк|партнер|друз|подруг|дружб|сім'|родин|шлюб|чоловік|дружин|самотн|"
        "розставан|розрив|діти|дітей|дитин|батьк|мама|мамою|тато|сестр|брат|свар|конфлікт"
    ),
    "health": (
        "здоров|зцілен|лікуван|тіло|тіла|болить|хвороб|хворію|відновлен|фітнес|спорт|"
        "харчуван|операці|хронічн|імун"
    ),
    "gratitude": "вдячн|дякую|цінувати",
    "abundance": "грош|достат|багатств|процвітан|фінанс|борг|успіх|дохід|доход|зарплат",
    "resilience": "стійкіст|горе|втрат|важк|трудн|невдач|впорат|провал|розбит|змін",
}

#: Turkish, by theme key (suffixes follow the stem: "mülakat" finds "mülakatım")
_TR_THEMES: Mapping[str, str] = {
    "interview": "mülakat|görüşme|seçmeler|işe alım",
    "public_speaking": (
        "sunum|konuşma yap|konuşmam var|topluluk önünde|sahne|seyirci|dinleyici|konferans"
    ),
    "sleep": "uyku|uyuya|uyuma|uykusuz|yatak|gece|dinlen",
    "calm": ("stres|kaygı|endişe|sakin|bunal|gergin|panik|rahatla|sinir|huzur|korku|kafam dur"),
    "focus": "odak|konsantr|dikkat|ders çalış|sınav|dağınık|netlik|verimli|erteleme",
    "confidence": "özgüven|cesaret|kendime inan|şüphe|utangaç|çekingen|güvensiz",
    "self_worth": (
        "öz değer|özsaygı|kendimi sev|kendini sev|kendimi kabul|hak et|öz şefkat|yeterli değil"
    ),
    "career": (
        "işim|işte|iş yeri|işyeri|kariyer|patron|müdür|yönetici|meslektaş|terfi|ofis|toplantı|ekip"
    ),
    "relationships": (
        "ilişki|partner|sevgili|arkadaş|aile|evlilik|eşim|kocam|karım|yalnız|ayrılık|çocuk|"
        "anne|baba|kardeş|kavga|tartış"
    ),
    "health": (
        "sağlık|iyileş|beden|vücut|ağrı|hastalık|hasta|toparlan|spor|kilo|ameliyat|kronik|"
        "bağışıklık"
    ),
    "gratitude": "şükran|minnet|teşekkür|şükür|takdir",
    "abundance": "para|bolluk|zenginlik|refah|finans|borç|başarı|gelir|maaş",
    "resilience": "dayanıklı|yas|kayıp|kaybet|zor zaman|başarısız|atlat|değişim",
}

#: Spanish, by the first English stem of a feeling in ``frames.FEELINGS``
_ES_FEELINGS: Mapping[str, str] = {
    "anxi": "ansi|nervios|preocup|estres|estrés|pánico|miedo|asustad|tens|agobi",
    "tired": "cansad|agotad|exhaust|sin fuerzas|sin energía",
    "restless": "inquiet|agitad|intranquil|no puedo parar",
    "sad": "triste|deprim|dolid|bajón|desanim|apenad|me siento sol",
    "angry": "enfad|enoj|frustr|irrit|molest|rabia|furios|resentid",
    "hope": "esperanz|optimis|ilusi|feliz|motivad|alegr|content",
    "calm": "tranquil|calma|en paz|relajad|seren",
}

#: Russian, likewise
_RU_FEELINGS: Mapping[str, str] = {
    "anxi": "тревож|тревог|волну|нервн|нервнич|беспоко|стресс|паник|страш|боюсь|напряж",
    "tired": "устал|устав|измотан|вымотан|сонн|нет сил|без сил",
    "restless": "неспокой|взвинч|не могу усидеть|суетлив|дёрган",
    "sad": "грус|печал|тоск|одинок|депресс|подавлен|горе|тяжело на душе",
    "angry": "злюсь|злость|злой|раздраж|бесит|бешен|фрустр",
    "hope": "надежд|надею|оптимис|радост|счастлив|вдохнов|мотивир|хорош",
    "calm": "спокой|умиротвор|расслабл|в порядке|нормально",
}

#: German, likewise
_DE_FEELINGS: Mapping[str, str] = {
    "anxi": "ängst|angst|nervös|sorge|besorgt|gestresst|panik|unter druck|angespannt",
    "tired": "müde|erschöpft|ausgelaugt|kaputt|schlapp",
    "restless": "unruhig|rastlos|hibbelig|aufgekratzt|zappelig",
    "sad": "traurig|niedergeschlagen|deprimiert|einsam|bedrückt|trauer|verletzt",
    "angry": "wütend|wut|ärger|verärgert|frustriert|gereizt|genervt",
    "hope": "hoffnung|optimistisch|freu|glücklich|motiviert|gut drauf",
    "calm": "ruhig|gelassen|entspannt|friedlich|zufrieden",
}

#: French, likewise
_FR_FEELINGS: Mapping[str, str] = {
    "anxi": "anxi|angoiss|nerveu|inquiet|inquiète|stress|panique|peur|tendu",
    "tired": "fatigu|épuisé|crevé|vidé|à plat",
    "restless": "agité|fébrile|je ne tiens pas en place",
    "sad": "triste|déprim|abattu|chagrin|peine|blessé|je me sens seul",
    "angry": "en colère|colère|énervé|frustr|irrit|agacé|furieu",
    "hope": "espoir|optimis|heureu|content|motivé|joie|enthousias",
    "calm": "calme|apaisé|serein|détendu|en paix|tranquille",
}

#: Portuguese, likewise
_PT_FEELINGS: Mapping[str, str] = {
    "anxi": "ansios|ansiedade|nervos|preocupad|estressad|pânico|medo|tens",
    "tired": "cansad|exaust|esgotad|sem energia|sem forças",
    "restless": "inquiet|agitad|elétric|não consigo parar",
    "sad": "triste|deprimid|sozinh|abatid|magoad|pra baixo",
    "angry": "raiva|irritad|bravo|brava|frustrad|chatead|furios",
    "hope": "esperança|esperanços|otimis|feliz|animad|motivad|alegr",
    "calm": "calm|tranquil|em paz|relaxad|seren",
}

#: Ukrainian, likewise
_UK_FEELINGS: Mapping[str, str] = {
    "anxi": "тривож|тривог|хвилю|нервов|нервую|стрес|паніц|страшно|боюся|напружен",
    "tired": "втом|виснажен|змучен|сонн|немає сил|без сил",
    "restless": "неспокійн|збуджен|не можу всидіти|метушлив",
    "sad": "сум|смут|туг|самотн|депрес|пригнічен|горе|важко на душі",
    "angry": "злюся|злість|злий|роздратов|дратує|бісить|лют",
    "hope": "наді|сподіва|оптиміс|радіс|щаслив|натхнен|мотиво",
    "calm": "спокійн|умиротвор|розслаблен|все гаразд|нормально",
}

#: Turkish, likewise
_TR_FEELINGS: Mapping[str, str] = {
    "anxi": "kaygı|endişe|gergin|stres|panik|korku|tedirgin",
    "tired": "yorgun|bitkin|tükenmiş|halsiz",
    "restless": "huzursuz|kıpır|yerimde duramı",
    "sad": "üzgün|hüzün|mutsuz|yalnız|depres|kırgın",
    "angry": "kızgın|öfke|sinirli",
    "hope": "umut|iyimser|mutlu|heyecan|motive|neşe",
    "calm": "sakin|huzurlu|rahat|dingin",
}

_LANGUAGES: Mapping[str, tuple[Mapping[str, str], Mapping[str, str]]] = {
    "es": (_ES_THEMES, _ES_FEELINGS),
    "ru": (_RU_THEMES, _RU_FEELINGS),
    "de": (_DE_THEMES, _DE_FEELINGS),
    "fr": (_FR_THEMES, _FR_FEELINGS),
    "pt": (_PT_THEMES, _PT_FEELINGS),
    "uk": (_UK_THEMES, _UK_FEELINGS),
    "tr": (_TR_THEMES, _TR_FEELINGS),
}

#: stems of each theme's keywords, by language, then by theme key
THEME_WORDS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    language: {key: tuple(spelled.split("|")) for key, spelled in themes.items()}
    for language, (themes, _feelings) in _LANGUAGES.items()
}
#: stems of each feeling, by language, then by the first English stem of its entry in
#: ``frames.FEELINGS``
FEELING_WORDS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    language: {key: tuple(spelled.split("|")) for key, spelled in feelings.items()}
    for language, (_themes, feelings) in _LANGUAGES.items()
}

#: when the moment is, by language: a pattern, and how the English names it (checked in
#: order, so "esta mañana" is today before "mañana" is tomorrow)
OCCASION_WORDS: Mapping[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    "es": (
        (re.compile(r"\besta mañana\b"), "today's"),
        (re.compile(r"(?<!la )(?<!esta )(?<!cada )\bmañana\b"), "tomorrow's"),
        (re.compile(r"\besta noche\b"), "tonight's"),
        (re.compile(r"\bhoy\b"), "today's"),
        (re.compile(r"\besta semana\b"), "this week's"),
        (
            re.compile(r"\b(?:la semana que viene|la próxima semana|la semana próxima)\b"),
            "next week's",
        ),
    ),
    "ru": (
        (re.compile(r"\bзавтра"), "tomorrow's"),
        (re.compile(r"\b(?:сегодня вечером|вечером)\b"), "tonight's"),
        (re.compile(r"\bсегодня"), "today's"),
        (re.compile(r"\bна этой неделе\b"), "this week's"),
        (re.compile(r"\bна следующей неделе\b"), "next week's"),
    ),
    "de": (
        (re.compile(r"\bheute abend\b"), "tonight's"),
        (re.compile(r"(?<!am )(?<!jeden )(?<!guten )\bmorgen\b"), "tomorrow's"),
        (re.compile(r"\bheute\b"), "today's"),
        (re.compile(r"\bdiese woche\b"), "this week's"),
        (re.compile(r"\bnächste woche\b"), "next week's"),
    ),
    "fr": (
        (re.compile(r"\bdemain\b"), "tomorrow's"),
        (re.compile(r"\bce soir\b"), "tonight's"),
        (re.compile(r"\baujourd['’]hui\b"), "today's"),
        (re.compile(r"\bcette semaine\b"), "this week's"),
        (re.compile(r"\bla semaine prochaine\b"), "next week's"),
    ),
    "pt": (
        (re.compile(r"\bamanhã\b"), "tomorrow's"),
        (re.compile(r"\b(?:hoje à noite|hoje a noite|esta noite)\b"), "tonight's"),
        (re.compile(r"\bhoje\b"), "today's"),
        (re.compile(r"\b(?:esta|essa|nesta|nessa) semana\b"), "this week's"),
        (re.compile(r"\b(?:semana que vem|próxima semana)\b"), "next week's"),
    ),
    "uk": (
        (re.compile(r"\bзавтра"), "tomorrow's"),
        (re.compile(r"\b(?:сьогодні ввечері|увечері|ввечері)\b"), "tonight's"),
        (re.compile(r"\bсьогодні"), "today's"),
        (re.compile(r"\bцього тижня\b"), "this week's"),
        (re.compile(r"\bнаступного тижня\b"), "next week's"),
    ),
    "tr": (
        (re.compile(r"\byarın"), "tomorrow's"),
        (re.compile(r"\bbu (?:akşam|gece)"), "tonight's"),
        (re.compile(r"\bbugün"), "today's"),
        (re.compile(r"\bbu hafta"), "this week's"),
        (re.compile(r"\b(?:gelecek hafta|haftaya)"), "next week's"),
    ),
}
