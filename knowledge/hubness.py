"""Hub passages: short or generic chunks that every question finds close.

In an embedding space some points are near everything: a two-line table row
("| Status: disconnected"), a heading, a boilerplate sentence. Asked something no
document covers ("Who won the football world cup in 2018?"), the nearest chunk of a bot
is such a hub, and it stands out from the other candidates as clearly as a real answer
does, so neither the similarity nor its margin tells the two apart.

Cross-domain similarity local scaling (CSLS, Conneau et al. 2018, "Word translation
without parallel data") corrects for it: a candidate's similarity is lowered by how close
it is, on average, to its nearest neighbours among reference queries. Here the reference
is a fixed set of everyday questions in several languages about everything but a bot's
material (:data:`REFERENCE`), embedded once per process; a chunk's *hubness* is its mean
similarity to the :data:`NEIGHBOURS` nearest of them. A candidate is then scored by its
similarity less how much more of a hub it is than the question's other candidates are
(their median), so a bot whose chunks are all alike (all about cooking, say) is not
penalised for its subject, only its odd hubs are.
"""

from __future__ import annotations

import numpy as np

#: how many of the reference questions a chunk's hubness averages over
NEIGHBOURS = 16
#: fewer candidates than this and there is no median to compare a hub with
MIN_CANDIDATES = 4

#: everyday questions on many subjects, in the languages users write in
REFERENCE: tuple[str, ...] = (
    "What time does the supermarket close on Sunday?",
    "How many players are on a basketball team?",
    "Which team won the last Champions League final?",
    "What is the tallest mountain in Africa?",
    "How do I reset my email password?",
    "Why is my phone battery draining so fast?",
    "What is a good present for a ten-year-old?",
    "How long does it take to roast a chicken?",
    "Can dogs eat chocolate?",
    "What is the exchange rate of the dollar to the euro?",
    "How do I get from the airport to the city centre?",
    "Who painted the Mona Lisa?",
    "When did the Second World War end?",
    "What is the difference between a virus and a bacterium?",
    "Is it going to snow this weekend?",
    "How do I get rid of ants in the kitchen?",
    "Which film won the Oscar for best picture last year?",
    "How much does a new electric car cost?",
    "What are the symptoms of the flu?",
    "How do I plant tomatoes in a pot?",
    "What is the population of Brazil?",
    "How can I learn to play the guitar?",
    "Where can I buy cheap concert tickets?",
    "Which documents do I need for a passport?",
    "How do volcanoes form?",
    "Who is the president of France?",
    "What's a quick recipe for dinner tonight?",
    "How do I fix a dripping tap?",
    "What are the lyrics of the national anthem?",
    "How far is the Moon from the Earth?",
    "Which smartphone has the best camera?",
    "How do I cancel my gym membership?",
    "¿Cuál es la receta de la paella?",
    "¿Dónde puedo aparcar en el centro de Sevilla?",
    "¿Quién ganó el partido de fútbol ayer?",
    "Quel est le meilleur vin pour accompagner le poisson ?",
    "Comment changer une roue de voiture ?",
    "Wie spät ist es in New York?",
    "Wo finde ich eine gute Pizzeria in Berlin?",
    "Qual é a capital da Argentina?",
    "Como faço um bolo de chocolate?",
    "Сколько стоит билет на поезд до Москвы?",
    "Какая погода будет завтра?",
    "Кто написал «Войну и мир»?",
    "Як приготувати борщ?",
    "İstanbul'da gezilecek yerler nerelerdir?",
    "明天北京的天气怎么样？",
    "上海有哪些好玩的地方？",
    "谁赢得了世界杯？",
    "ما هي عاصمة مصر؟",
    "كيف أتعلم اللغة الإنجليزية بسرعة؟",
    "東京でおすすめのレストランは？",
    "How do I change the oil in my car?",
    "What are the rules of chess?",
    "How do I make my houseplants grow faster?",
    "What is the best way to save money for retirement?",
    "How many calories are in a banana?",
    "What is the speed of light?",
    "How do I book a cheap flight to Rome?",
    "What does a black hole look like?",
    "Which wine goes with steak?",
    "How do I remove rust from a bicycle chain?",
    "What are the opening hours of the museum?",
    "Why do cats purr?",
)


def hubness(candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each candidate's mean similarity to its :data:`NEIGHBOURS` nearest reference
    questions (rows are unit vectors, as the embedders return them)."""
    if len(candidates) == 0:
        return np.zeros(0)
    similarity = candidates @ reference.T
    k = min(NEIGHBOURS, reference.shape[0])
    nearest = np.partition(similarity, similarity.shape[1] - k, axis=1)[:, -k:]
    return np.asarray(nearest.mean(axis=1))


def rescaled(similarities: np.ndarray, hubs: np.ndarray) -> np.ndarray:
    """The similarities less how much more of a hub each candidate is than the median
    candidate (never raised: a chunk less of a hub than the others keeps its own)."""
    if len(similarities) < MIN_CANDIDATES:
        return similarities
    excess = np.maximum(hubs - float(np.median(hubs)), 0.0)
    return np.asarray(similarities - excess)
