"""The pieces of a passage an answer may quote: sentences, and lead-ins with their blocks.

A passage's text (see :mod:`knowledge.chunking`) is blocks separated by blank lines:
prose paragraphs, code inside ``` fences, list items starting with "- ", table rows
with " | " cells. A :class:`Span` is the smallest piece that reads whole on its own: a
prose sentence, or a sentence ending in a colon together with the code, list or table
it introduces. Code, list items and table rows never stand alone, and neither do
headings, code comments, prompts or labels (:mod:`core.generation.fragments` says what
reads as broken); a list item that is a full sentence may be quoted as one.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from core.generation.fragments import CODE_INDENT, LIST_MARK, sentence_problem
from knowledge.sentences import split_sentences

_FENCE = "```"
_DIRECTIVE = re.compile(r":::+\s*(?:\{[\w-]+\}(?:\s+v?\d[\w.]*)?)?")
_SECTION_NUMBER = re.compile(r"^\s*(?:§\s*)?[\dIVXivx]+(?:\.\d+)*\.?\s+")
_ITEM = re.compile(r"^(?:[-*•+]|\d{1,3}[.)])\s+")
_PROSE = re.compile(r"[\w\s,.;:'\"!?()\-–—’“”«»/%&]")
# lead-ins that say nothing without what follows them
_WAITING = re.compile(
    r"\b(?:following|follows|below|these|this|are|is|include|includes|including|as|like|"
    r"such|e\.g|example|examples|here|use|using|run|with|to|by|of|for|from|and|or)$",
    re.I,
)
MAX_BLOCK_LINES = 8
MAX_CODE_LINES = 12
MAX_SPAN_CHARS = 700


class BlockType(enum.StrEnum):
    """The structural kind of a piece of passage text."""

    PROSE = "prose"
    CODE = "code"
    LIST = "list"
    TABLE = "table"


@dataclass(frozen=True, slots=True)
class TextBlock:
    """A block of a passage: prose, code lines, list items or table rows."""

    type: BlockType
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Span:
    """A quotable piece of passage ``passage`` (its index in the request), at ``order``.

    ``lead`` is the prose of the span; ``block`` the lines of the block the lead
    introduces (empty for a plain sentence), already in the answer's layout.
    """

    passage: int
    order: int
    lead: str
    block: tuple[str, ...] = ()
    block_type: BlockType | None = None

    @property
    def text(self) -> str:
        """The span as it appears in an answer (without its citation)."""
        return "\n".join([self.lead, *self.block]) if self.block else self.lead

    @property
    def scored_text(self) -> str:
        """What the span is matched on: its lead and the words of its block."""
        return " ".join([self.lead, *self.block])


def passage_blocks(text: str) -> list[TextBlock]:
    """The blocks of a passage's text, in order."""
    blocks: list[TextBlock] = []
    code: list[str] | None = None
    for raw in text.split("\n\n"):
        if code is not None:  # inside a fence that held a blank line
            lines = raw.split("\n")
            if lines and lines[-1].strip() == _FENCE:
                blocks.append(TextBlock(BlockType.CODE, (*code, "", *lines[:-1])))
                code = None
            else:
                code += ["", *lines]
            continue
        stripped = raw.strip("\n")
        if not stripped.strip():
            continue
        if stripped.startswith(_FENCE):
            lines = stripped.split("\n")[1:]
            if lines and lines[-1].strip() == _FENCE:
                blocks.append(TextBlock(BlockType.CODE, tuple(lines[:-1])))
            else:
                code = lines
            continue
        blocks.append(_classify(stripped))
    if code:
        blocks.append(TextBlock(BlockType.CODE, tuple(code)))
    return _merge_lists(blocks)


def _unmarked(text: str) -> str:
    """Prose without the fences of a directive a loader left in ("::: {note}")."""
    return _DIRECTIVE.sub(" ", text).strip()


def _classify(text: str) -> TextBlock:
    lines = [line for line in text.split("\n") if line.strip()]
    if all(" | " in line for line in lines) and len(lines) > 1:
        return TextBlock(BlockType.TABLE, tuple(lines))
    if _ITEM.match(text):
        return TextBlock(BlockType.LIST, (_ITEM.sub("", " ".join(text.split()), count=1),))
    flat = " ".join(_unmarked(text).split())
    if len(lines) > 2 and sum(map(bool, (_PROSE.match(c) for c in flat))) < 0.85 * len(flat):
        return TextBlock(BlockType.CODE, tuple(lines))  # code without its fences
    return TextBlock(BlockType.PROSE, (flat,))


def _merge_lists(blocks: list[TextBlock]) -> list[TextBlock]:
    merged: list[TextBlock] = []
    for block in blocks:
        if block.type is BlockType.LIST and merged and merged[-1].type is BlockType.LIST:
            merged[-1] = TextBlock(BlockType.LIST, merged[-1].lines + block.lines)
        else:
            merged.append(block)
    return merged


def passage_spans(passage: int, text: str, *, title: str = "", section: str = "") -> list[Span]:
    """Every quotable span of one passage, in reading order.

    A block that no sentence introduces is introduced by its section's heading (a
    how-to heading over a command: "Correct page rotation:"), when there is one; list
    items that are sentences in their own right may also be quoted alone.
    """
    blocks = passage_blocks(text)
    spans: list[Span] = []
    title_key = _key(title)
    heading = _SECTION_NUMBER.sub("", section.rsplit(" › ", 1)[-1]).strip().rstrip(".:!?：")
    for index, block in enumerate(blocks):
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if block.type is BlockType.PROSE:
            spans += _prose_spans(passage, len(spans), block.lines[0], following, title_key)
            continue
        previous = blocks[index - 1] if index else None
        if previous is not None and _leads_in(previous):
            continue  # quoted with its lead-in
        if (
            heading
            and _key(heading) != title_key
            and (span := _introduced(passage, len(spans), f"{heading}:", block))
        ):
            spans.append(span)
        if block.type is BlockType.LIST:
            for item in block.lines:
                # a lower-case item goes on a lead-in this passage does not hold
                if not item[0].islower() and sentence_problem(item) is None:
                    spans.append(Span(passage, len(spans), item))
    return spans


def _leads_in(block: TextBlock) -> bool:
    return block.type is BlockType.PROSE and block.lines[0].endswith((":", "："))


def _prose_spans(
    passage: int, start: int, text: str, following: TextBlock | None, title_key: str
) -> list[Span]:
    spans: list[Span] = []
    sentences = _with_answers(split_sentences(text))
    for number, sentence in enumerate(sentences):
        last = number == len(sentences) - 1
        order = start + len(spans)
        if sentence.endswith((":", "：")):
            block = following if last else None
            if block is not None and block.type is not BlockType.PROSE:
                span = _introduced(passage, order, sentence, block)
                if span is None and (whole := _standing(sentence)):
                    span = Span(passage, order, whole)  # the block is too big to quote
                if span is not None:
                    spans.append(span)
            continue  # a colon with nothing after it in the passage: never quoted
        if _key(sentence) == title_key or sentence_problem(sentence) is not None:
            continue
        spans.append(Span(passage, order, sentence))
    return spans


def _standing(lead: str) -> str | None:
    """A lead-in as a sentence of its own ("You can also add listeners at runtime:"
    ends as well with a full stop), unless its words wait for what it introduces."""
    body = lead.rstrip(":： ")
    if _WAITING.search(body) or sentence_problem(f"{body}.") is not None:
        return None
    return f"{body}."


def _with_answers(sentences: list[str]) -> list[str]:
    """The sentences, a question the text asks itself joined to the one answering it."""
    joined: list[str] = []
    for sentence in sentences:
        if joined and joined[-1].endswith(("?", "？", "؟")) and not sentence.endswith("?"):
            joined[-1] = f"{joined[-1]} {sentence}"
        else:
            joined.append(sentence)
    return joined


def _introduced(passage: int, order: int, lead: str, block: TextBlock) -> Span | None:
    """A lead-in with its block in the answer's layout, or None if too big to quote."""
    if block.type is BlockType.CODE:
        lines = [CODE_INDENT + line for line in block.lines if line.strip()]
    elif block.type is BlockType.LIST:
        lines = [LIST_MARK + item for item in block.lines]
    else:
        lines = list(block.lines)
    if not lines:
        return None
    if block.type is BlockType.CODE:
        if len(lines) > MAX_CODE_LINES or sum(map(len, lines)) > MAX_SPAN_CHARS:
            return None  # a piece of a program helps nobody
    elif len(lines) > 3 * MAX_BLOCK_LINES:
        return None  # lists and tables up to this size get trimmed to what is asked
    return Span(passage, order, lead, tuple(lines), block.type)


def trimmed(span: Span, relevant: set[int]) -> Span:
    """A span whose list or table is too long to quote whole: its relevant lines only
    (``relevant`` indexes ``span.block``), with a table's header row."""
    if span.block_type is BlockType.CODE or (
        len(span.block) <= MAX_BLOCK_LINES and sum(map(len, span.block)) <= MAX_SPAN_CHARS
    ):
        return span
    keep = sorted(relevant)[: MAX_BLOCK_LINES // 2]
    if span.block_type is BlockType.TABLE and 0 not in keep:
        keep = [0, *keep]
    return Span(
        span.passage, span.order, span.lead, tuple(span.block[i] for i in keep), span.block_type
    )


def _key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))
