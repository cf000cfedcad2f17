"""The lexical half of hybrid retrieval: BM25 over a bot's chunks, with bm25s.

Tokens are lower-cased Unicode words without common English stop words; Chinese,
Japanese and Korean text, written without spaces, is indexed as overlapping character
pairs so that a two-character word in a question still matches.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from core.text import STOP_WORDS

#: the least share of the vocabulary in a script for the documents to be written in it
SCRIPT_SHARE = 0.05
#: the Snowball stemmer of each script whose words the gate's measures fold (Latin-script
#: words are stemmed as English: "-s", "-ed", "-ing" are what most variants differ by)
_STEMMERS = {"LATIN": "english", "CYRILLIC": "russian", "GREEK": "greek", "ARABIC": "arabic"}
#: the shortest stem a misspelt or variant word ("licence" for "license") is matched at
MIN_FUZZY = 5
_local = threading.local()
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")


def tokenize(text: str) -> list[str]:
    """Index terms of ``text``: words, and character pairs for CJK runs."""
    lowered = text.lower()
    if not _CJK.search(lowered):  # the common case, about twice as fast
        return [w for w in _WORD.findall(lowered) if w not in STOP_WORDS]
    tokens: list[str] = []
    for word in _WORD.findall(lowered):
        start = 0
        for run in _CJK.finditer(word):
            tokens += _plain(word[start : run.start()])
            cjk = run.group()
            tokens += [cjk] if len(cjk) == 1 else [cjk[i : i + 2] for i in range(len(cjk) - 1)]
            start = run.end()
        tokens += _plain(word[start:])
    return tokens


def _script(term: str) -> str:
    """The writing system of a term, by its first letter ("LATIN", "CYRILLIC", "CJK"…);
    digits belong to every script."""
    if term[:1].isdigit():
        return "DIGIT"
    return unicodedata.name(term[0], "?").split(" ")[0]


@functools.lru_cache(maxsize=65536)
def stem(term: str) -> str:
    """The Snowball stem of a term in a script with a stemmer ("reinstated" and
    "reinstates" → "reinstat"); other terms (CJK pairs, digits) as they are."""
    language = _STEMMERS.get(_script(term))
    if language is None:
        return term
    stemmers = _local.__dict__.setdefault("stemmers", {})  # not thread-safe: one a thread
    stemmer = stemmers.get(language)
    if stemmer is None:
        import snowballstemmer

        stemmer = stemmers[language] = snowballstemmer.stemmer(language)
    return str(stemmer.stemWord(term))


def _one_edit_apart(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one letter changed, added, removed or two swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return a == b
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :] or (
            a[i : i + 2] == b[i : i + 2][::-1] and a[i + 2 :] == b[i + 2 :]
        )
    return a[i:] == b[i + 1 :]


class _Vocabulary:
    """The stems of a corpus, and the one a question's word stands for: its own stem, or
    a stem one edit away (a spelling variant or a typo) when the corpus lacks it."""

    def __init__(self, stems: Iterable[str]) -> None:
        self._by_prefix: dict[str, list[str]] = defaultdict(list)
        for s in stems:
            if len(s) >= MIN_FUZZY:
                self._by_prefix[s[:3]].append(s)

    def key(self, term: str, known: Counter[str]) -> str:
        s = stem(term)
        if s in known or len(s) < MIN_FUZZY:
            return s
        near = [v for v in self._by_prefix.get(s[:3], ()) if _one_edit_apart(s, v)]
        return max(near, key=known.__getitem__) if near else s


def _plain(word: str) -> list[str]:
    return [word] if word and word not in STOP_WORDS else []


class LexicalIndex:
    """A BM25 index over fixed texts; rebuild it to change them. bm25s is imported with
    the first index, when a bot with documents is first searched."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        import bm25s

        # bm25s sets its logger to DEBUG when imported: keep its per-index chatter out
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.ids = list(ids)
        self._bm25 = bm25s.BM25()
        corpus = [tokenize(t) or [""] for t in texts]
        if corpus:
            self._bm25.index(corpus, show_progress=False)
        # the gate's measures compare stems, so that "ranked" finds "rank"
        self._terms = {
            i: frozenset(stem(t) for t in tokens)
            for i, tokens in zip(self.ids, corpus, strict=True)
        }
        self._df = Counter(term for terms in self._terms.values() for term in terms)
        self._vocabulary = _Vocabulary(self._df)
        # the scripts the documents are written in (not those of a few quoted names)
        scripts = Counter(_script(term) for term in self._df)
        self._scripts = {k for k, n in scripts.items() if n >= SCRIPT_SHARE * len(self._df)}

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best-scoring ids with their BM25 scores (zero scores left out)."""
        terms = [t for t in tokenize(query) if t in self._bm25.vocab_dict] if self.ids else []
        if not terms:
            return []
        scores = np.asarray(self._bm25.get_scores(terms))
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        ranked = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in ranked if scores[i] > 0]

    def coverage(self, query: str, ids: Sequence[str]) -> float:
        """How much of ``query`` the best of the chunks ``ids`` contains, 0 to 1: the
        IDF-weighted share of its terms found there. A term no chunk has weighs as
        much as one that a single chunk has, so a question sharing one common word with
        the documents covers little of itself, and a one-word question whose word is
        there covers all of itself. A term in more than half of the chunks weighs as
        much as one in half: in a bot about one thing, its name is in every chunk, yet
        it is what a question about that thing has in common with them."""
        weights = self._weights(query)
        if not weights or not ids:
            return 0.0
        best = 0.0
        for chunk_id in ids:
            present = self._terms.get(chunk_id, frozenset())
            best = max(best, sum(w for t, w in weights.items() if t in present))
        return best / sum(weights.values())

    def unfamiliar(self, query: str) -> float:
        """How much of ``query`` the documents never mention, 0 to 1: the IDF-weighted
        share of its terms that no chunk has, counting only terms in a script the
        documents are written in. "Red wine stain" asked of an English manual is mostly
        unfamiliar; a Russian question asked of it is not (its words are not expected
        there), nor is the "PDF" in a Chinese question that is."""
        weights = {t: w for t, w in self._weights(query).items() if _script(t) in self._scripts}
        if not weights:
            return 0.0
        absent = sum(w for t, w in weights.items() if t not in self._df)
        return absent / sum(weights.values())

    def _weights(self, query: str) -> dict[str, float]:
        n = len(self.ids)
        common = max(1, n // 2)
        keys = {self._vocabulary.key(t, self._df) for t in tokenize(query)}
        return {k: self._idf(min(max(self._df.get(k, 0), 1), common), n) for k in keys}

    @staticmethod
    def _idf(df: int, n: int) -> float:
        return math.log(1 + (n - df + 0.5) / (df + 0.5))
