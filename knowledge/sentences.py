"""Sentence splitting that survives technical and multilingual text.

A full stop ends a sentence only when what follows looks like a new one: it is not part
of an abbreviation ("e.g.", "Dr.", "etc."), a version or a number ("3.11", "v1.2"), a
file name or a domain ("xquad.ar.json", "example.com"), or an initial ("J. Smith").
Chinese and Japanese full stops (。！？) end a sentence with no space after them, and so
do the Arabic question mark and the Devanagari danda.
"""

from __future__ import annotations

import re

# lower-cased, without the final dot
_ABBREVIATIONS = frozenset(
    """e.g i.e etc vs cf al approx dr mr mrs ms prof sr jr st no nos vol fig figs eq eqs
    ch sec art para pp p ed eds inc ltd co corp dept est min max resp viz ca jan feb mar
    apr jun jul aug sep sept oct nov dec mt ft u.s u.k a.m p.m ph.d b.sc m.sc""".split()
)
# a sentence end: terminal punctuation, closing quotes or brackets, then space
_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)|[。！？؟।]+[\"'”’」』)）]*")
_WORD_BEFORE = re.compile(r"(\S+)$")


def split_sentences(text: str) -> list[str]:
    """The sentences of one paragraph of prose, whitespace normalised, in order."""
    flat = " ".join(text.split())
    sentences: list[str] = []
    start = 0
    for match in _END.finditer(flat):
        end = match.end()
        if match.group()[0] == "." and not _ends_sentence(flat, match.start(), end):
            continue
        piece = flat[start:end].strip()
        if piece:
            sentences.append(piece)
        start = end
    rest = flat[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def _ends_sentence(text: str, dot: int, end: int) -> bool:
    """Whether the full stop at ``dot`` (its match ending at ``end``) ends a sentence."""
    word = _WORD_BEFORE.search(text[:dot])
    token = word.group(1).lstrip("(\"'“‘[").lower() if word else ""
    initial = len(token) == 1 and word is not None and word.group(1)[-1].isupper()
    if re.fullmatch(r"\d+(?:\.\d+)+|\d{1,2}", token) and not text[:dot].strip(" (").count(" "):
        return False  # a section number opening the text: "5.1. HTTP/1 parser"
    # "e.g.", "Dr." and initials do not end one; a dot inside a token ("3.11",
    # "xquad.ar.json") never matched, having no space after it
    return not (token in _ABBREVIATIONS or initial)
