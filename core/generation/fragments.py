"""Broken fragments in a composed answer: what must never reach a user as a "sentence".

An extractive answer is made of quoted prose sentences, and of blocks (code, list items,
table rows) that follow the sentence introducing them. This module finds the pieces that
read as broken: a sentence cut on the colon that should introduce something, a code
comment or an interactive prompt quoted as prose, a dangling bracket, a label or a title
with no sentence around it, or a block with nothing introducing it. The composer uses it
to reject candidates; the answer benchmark and the tests use it to count failures.

The layout it reads is the composer's: prose on lines of its own, a block's lines right
after the line whose last sentence ends in a colon, code lines indented by four spaces,
list items starting with "- ", table rows holding " | ".
"""

from __future__ import annotations

import re

from core.text import STOP_WORDS
from knowledge.sentences import split_sentences

CODE_INDENT = "    "
LIST_MARK = "- "
_CITATION = re.compile(r"\s*\[\d+\]")
_TERMINAL = re.compile(r"[.!?…。！？؟।][\"'”’»)\]」』）]*$")
_CODE_START = re.compile(r"^(?:#|//|/\*|>>>|\.\.\.\s|\$\s|In \[\d*\]:|%\s|--\s)")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_HEADING = re.compile(
    r"^(?:section|chapter|part|article|appendix|step|table|figure)\s+[\w.()]+\s*[–—:.-]", re.I
)
# words that begin the rest of a sentence, not a sentence (besides the stop words)
_CONTINUATIONS = frozenset(
    "upon unless whereas provided including except without within via plus nor yet "
    "thereby whereby hence thus respectively".split()
)
_DASHED = re.compile(r"\s[–—]\s")  # "Additional offer from the Licensor – Adapted Material."
# what a dropped link leaves: "See  for details", "is in ."
_HOLE = re.compile(r"\s[.,;:](?:\s|$)|^see (?:for|and|,)\b|\(\s*\)", re.I)
_MARKUP = re.compile(r":::|\{(?:note|warning|tip|seealso|versionadded|versionchanged)\}|</?\w+>")
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_MIN_WORDS = 4


def is_block_line(line: str) -> bool:
    """Whether an answer line belongs to a block (code, a list item, a table row)."""
    return line.startswith((CODE_INDENT, LIST_MARK)) or " | " in line


def sentence_problem(sentence: str, *, introduces: bool = False) -> str | None:
    """What is broken about ``sentence`` quoted as prose, or None when it reads whole.

    ``introduces`` says that a block follows it, so that it may end in a colon.
    """
    text = _CITATION.sub("", sentence).strip()
    if not text:
        return "empty"
    if _CODE_START.match(text):
        return "code comment or prompt"
    if text.endswith((":", "：")):
        return None if introduces else "cut at its colon"
    first = text.split(None, 1)[0].lower()
    if text[0].islower() and (first in STOP_WORDS or first in _CONTINUATIONS):
        return "starts mid-sentence"
    if _HEADING.match(text) or (len(text.split()) <= 8 and _DASHED.search(text)):
        return "a heading"
    if _HOLE.search(text):
        return "a hole where a link was"
    if _MARKUP.search(text):
        return "markup"
    if not _balanced(text):
        return "dangling bracket"
    if not _TERMINAL.search(text):
        return "no sentence end (a title, a label or a cut)"
    if not _CJK.search(text) and len(text.split()) < _MIN_WORDS:
        return "too short to be a sentence"
    return None


def broken_fragments(answer: str) -> list[str]:
    """The broken pieces of a composed answer, each as ``problem: text`` (empty if none)."""
    problems: list[str] = []
    lines = [line.rstrip() for line in answer.split("\n") if line.strip()]
    introduced = False  # whether the line before opened a block (or is in one)
    for number, line in enumerate(lines):
        if is_block_line(line):
            if not introduced:
                problems.append(f"block without a lead-in: {line.strip()}")
            continue
        following = lines[number + 1] if number + 1 < len(lines) else ""
        opens_block = is_block_line(following)
        sentences = split_sentences(_CITATION.sub("", line))
        for index, sentence in enumerate(sentences):
            last = index == len(sentences) - 1
            problem = sentence_problem(sentence, introduces=last and opens_block)
            if problem:
                problems.append(f"{problem}: {sentence}")
        introduced = opens_block and bool(sentences) and sentences[-1].endswith((":", "："))
    return problems


def _balanced(text: str) -> bool:
    """Whether brackets close in order (an unmatched closing one is tolerated: "1)")."""
    stack: list[str] = []
    for char in text:
        if char in _OPENERS:
            stack.append(_OPENERS[char])
        elif char in _OPENERS.values() and stack and stack[-1] == char:
            stack.pop()
    return not stack
