"""The hand-written questions of bench/gate.py: covered ones about the demo notes and
the OCRmyPDF cookbook, and off-topic ones in seven languages."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.retrieval import EVERYDAY
from tests.test_core.answer_cases import CASES
from tests.test_core.answer_cases import OFF_TOPIC as DOCS_OFF_TOPIC

_CJK = ("\u4e00", "\u9fff")

#: covered questions about the demo notes and the cookbook (in several languages; some
#: of one content word)
COVERED = {
    "demo": [
        ("en", "How do I do box breathing?"),
        ("en", "What is the 4-7-8 breath?"),
        ("en", "Posture?"),
        ("en", "affirmations"),
        ("en", "How long should I meditate as a beginner?"),
        ("en", "What should I do when my mind wanders?"),
        ("ru", "Как делать квадратное дыхание?"),
        ("ru", "Сколько времени нужно медитировать?"),
        ("zh", "冥想时走神了怎么办？"),
        ("es", "¿Cuál es el mejor momento del día para meditar?"),
    ],
    "cookbook": [
        ("en", "How do I add an OCR layer and convert to PDF/A?"),
        ("en", "How can I correct page rotation?"),
        ("en", "Deskew?"),
        ("en", "ghostscript"),
        ("en", "How do I remove the OCR text layer from my PDF?"),
        ("en", "How do I OCR only certain pages?"),
        ("ru", "Как исправить поворот страниц?"),
        ("ru", "Как распознать текст на других языках, кроме английского?"),
        ("zh", "如何只处理某些页面？"),
        ("de", "Wie optimiere ich Bilder, ohne OCR durchzuführen?"),
    ],
}

#: questions no corpus here covers, several sharing a common word with one of them
OFF_TOPIC = [
    ("en", "How do I remove a red wine stain?"),
    ("en", "How do I reset my router?"),
    ("en", "What's a good pasta recipe for dinner?"),
    ("en", "Will it rain tomorrow?"),
    ("en", "How do I cancel my phone subscription?"),
    ("en", "Which running shoes are best for flat feet?"),
    ("en", "How do I change a flat tire?"),
    ("en", "How many calories are in an avocado?"),
    ("en", "How do I teach my puppy to sit?"),
    ("en", "Can I freeze cooked rice?"),
    ("en", "How do I convert euros to dollars?"),
    ("en", "What is the best time to plant tomatoes?"),
    ("en", "How long should I boil an egg?"),
    ("en", "How do I fix a squeaky door?"),
    ("en", "Who won the football world cup in 2014?"),
    ("en", "Where can I buy concert tickets?"),
    ("en", "Wine?"),
    ("en", "Weather"),
    ("ru", "Как вывести пятно от красного вина?"),
    ("ru", "Какая завтра будет погода?"),
    ("ru", "Как приготовить борщ?"),
    ("ru", "Как поменять колесо у машины?"),
    ("ru", "Сколько стоит билет на поезд до Казани?"),
    ("ru", "Как научить собаку сидеть?"),
    ("ru", "Какой телефон купить в этом году?"),
    ("ru", "Где оплатить штраф за парковку?"),
    ("zh", "怎么去除红酒渍？"),
    ("zh", "明天会下雨吗？"),
    ("zh", "怎么做红烧肉？"),
    ("zh", "如何重置路由器？"),
    ("zh", "哪里可以买到演唱会门票？"),
    ("zh", "怎么给多肉植物浇水？"),
    ("zh", "去北京的火车票多少钱？"),
    ("ar", "كيف أزيل بقعة النبيذ الأحمر؟"),
    ("ar", "هل ستمطر غدا؟"),
    ("ar", "كيف أطبخ الأرز؟"),
    ("ar", "ما هو أفضل هاتف للشراء؟"),
    ("ar", "كيف أغير إطار السيارة؟"),
    ("es", "¿Cómo quito una mancha de vino tinto?"),
    ("es", "¿Qué tiempo hará mañana en Madrid?"),
    ("es", "¿Cómo hago una tortilla de patatas?"),
    ("es", "¿Dónde puedo comprar entradas para un concierto?"),
    ("de", "Wie entferne ich einen Rotweinfleck?"),
    ("de", "Wie wechsle ich einen Reifen?"),
    ("de", "Wann fährt der nächste Zug nach Berlin?"),
    ("de", "Welches Handy soll ich kaufen?"),
    ("fr", "Comment enlever une tache de vin rouge ?"),
    ("fr", "Quel temps fera-t-il demain ?"),
    ("fr", "Comment faire une pâte à crêpes ?"),
]

#: with the everyday questions bench/retrieval.py asks (English), not repeated above
OFF_TOPIC += [("en", q) for q in EVERYDAY if ("en", q) not in OFF_TOPIC]
#: the answer tests' questions over the shared documents, asked of a bot holding them all
COVERED["docs"] = [
    ("zh" if any(_CJK[0] <= ch <= _CJK[1] for ch in case.question) else "en", case.question)
    for case in CASES
]
OFF_TOPIC += [("en", q) for q in DOCS_OFF_TOPIC if ("en", q) not in OFF_TOPIC]
