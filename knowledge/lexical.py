"""The lexical half of hybrid retrieval: BM25 over a bot's chunks, with bm25s.

Tokens are lower-cased Unicode words without common English stop words; Chinese,
Japanese and Korean text, written without spaces, is indexed as overlapping character
pairs so that a two-character word in a question still matches.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from core.text import STOP_WORDS

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
