"""Chunking that follows a document's structure.

Chunks never cross a heading: each belongs to one section and carries its heading path.
Paragraphs are packed up to a target size; a paragraph or table too big for one chunk is
split at sentence or row boundaries (a table's header row is repeated in each piece), and
consecutive pieces of one section overlap by a few sentences of prose so that an answer
spanning a boundary is still found.

Structure survives in the chunk's text, for the composer that quotes it: code keeps its
lines inside ``` fences, list items start with "- ", table rows keep their " | " cells,
and a sentence ending in a colon stays in the same chunk as the block it introduces (as
do the items of one list) whenever the chunk can hold them. Chunk ids are hashes of the
document id, position and text, so chunking the same document again gives the same ids.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from knowledge.documents import Block, BlockKind, LoadedDocument
from knowledge.sentences import split_sentences

#: the last part of the section of a chunk read by OCR, so its citations say so
OCR_SECTION = "OCR"
BLOCK_SEPARATOR = "\n\n"
FENCE = "```"
LIST_MARK = "- "
_MARKED = re.compile(r"^(?:[-*•+]\s|\d{1,3}[.)]\s)")


@dataclass(frozen=True, slots=True)
class KnowledgeChunk:
    """A passage of a document, with where it comes from."""

    id: str
    document_id: str
    position: int
    text: str
    title: str
    page: int | None
    heading_path: tuple[str, ...]
    start: int  # character offsets in the document's text (blocks joined by blank lines)
    end: int
    ocr: bool = False  # some of its text was read by OCR from an image of a page

    @property
    def section(self) -> str:
        """Its heading path, and ``OCR`` after it when OCR read its text: what a
        citation shows next to the page ("p. 1, OCR")."""
        return " › ".join((*self.heading_path, OCR_SECTION) if self.ocr else self.heading_path)

    def indexed_text(self) -> str:
        return indexed_text(self.section, self.text)


def indexed_text(section: str, text: str) -> str:
    """The text the indexes see: the section's headings give the passage its context."""
    return f"{section}\n{text}" if section else text


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    page: int | None
    start: int
    kind: BlockKind = BlockKind.PARAGRAPH
    ocr: bool = False

    @property
    def glued(self) -> bool:
        """Whether the next piece belongs with this one: a lead-in ending in a colon."""
        return self.kind is BlockKind.PARAGRAPH and self.text.rstrip().endswith((":", "："))


class StructuredChunker:
    """Splits a loaded document into chunks of about ``target_chars`` characters."""

    def __init__(self, target_chars: int = 900, overlap_chars: int = 150) -> None:
        if target_chars < 100:
            raise ValueError("target_chars must be at least 100")
        if not 0 <= overlap_chars < target_chars // 2:
            raise ValueError("overlap_chars must be between 0 and half of target_chars")
        self.target = target_chars
        self.overlap = overlap_chars

    def split(self, document: LoadedDocument, document_id: str) -> list[KnowledgeChunk]:
        """The chunks of ``document``, in reading order."""
        chunks: list[KnowledgeChunk] = []
        for path, pieces in self._sections(document.blocks):
            for text, page, start, end, ocr in self._pack(pieces):
                position = len(chunks)
                digest = hashlib.sha256(f"{document_id}\0{position}\0{text}".encode())
                chunks.append(
                    KnowledgeChunk(
                        id=digest.hexdigest()[:32],
                        document_id=document_id,
                        position=position,
                        text=text,
                        title=document.title,
                        page=page,
                        heading_path=path,
                        start=start,
                        end=end,
                        ocr=ocr,
                    )
                )
        return chunks

    def _sections(
        self, blocks: tuple[Block, ...]
    ) -> Iterator[tuple[tuple[str, ...], list[_Piece]]]:
        headings: list[tuple[int, str]] = []
        pieces: list[_Piece] = []
        offset = 0
        listing = False  # inside items that a lead-in introduced, in a format without lists
        for block in blocks:
            text = block.text.strip()
            if not text:
                continue
            if block.kind is BlockKind.PARAGRAPH and (listing or _introduces(pieces)):
                # plain text has no list markup: lines that go on a lead-in's sentence
                # ("it reinstates:" / "automatically as of…") are its items
                listing = text[0].islower()
                if listing:
                    block = dataclasses.replace(block, kind=BlockKind.LIST_ITEM)
            if block.kind is BlockKind.HEADING:
                if pieces:
                    yield tuple(h for _, h in headings), pieces
                    pieces = []
                level = block.level or 1
                headings = [(lv, h) for lv, h in headings if lv < level] + [(level, text)]
            else:
                pieces += self._fit(block, text, offset)
            offset += len(text) + len(BLOCK_SEPARATOR)
        if pieces:
            yield tuple(h for _, h in headings), pieces

    def _fit(self, block: Block, text: str, offset: int) -> list[_Piece]:
        """The block as pieces no longer than the target, in the chunk's text form."""
        kind = block.kind
        if kind is BlockKind.CODE:
            return self._fit_code(block, text, offset)
        if kind is BlockKind.LIST_ITEM and not _MARKED.match(text):
            text = LIST_MARK + text
        if len(text) <= self.target:
            return [_Piece(text, block.page, offset, kind, block.ocr)]
        if kind is BlockKind.TABLE:
            units, header = text.split("\n"), text.split("\n", 1)[0]
        else:
            units, header = split_sentences(text), None
        pieces: list[_Piece] = []
        current: list[str] = []
        position = offset
        for unit in _hard_wrap(units, self.target):
            candidate = [*current, unit]
            if current and len(" ".join(candidate)) > self.target:
                pieces.append(_Piece(_join(current, block), block.page, position, kind, block.ocr))
                position += sum(len(u) + 1 for u in current)
                current = [header, unit] if header and unit != header else [unit]
            else:
                current = candidate
        if current:
            pieces.append(_Piece(_join(current, block), block.page, position, kind, block.ocr))
        return pieces

    def _fit_code(self, block: Block, text: str, offset: int) -> list[_Piece]:
        """Code in fences, cut between lines when it is longer than the target."""
        room = self.target - 2 * (len(FENCE) + 1)
        pieces: list[_Piece] = []
        lines: list[str] = []
        for line in _hard_wrap(text.split("\n"), room):
            if lines and sum(len(x) + 1 for x in lines) + len(line) > room:
                pieces.append(_fenced(lines, block, offset))
                lines = []
            lines.append(line)
        if lines:
            pieces.append(_fenced(lines, block, offset))
        return pieces

    def _pack(self, pieces: list[_Piece]) -> Iterator[tuple[str, int | None, int, int, bool]]:
        """Group a section's pieces into chunks, each starting with a little overlap.

        A lead-in and the block it introduces, and the items of one list, may stretch a
        chunk by up to the overlap rather than be parted; a lead-in that would still be
        parted from its block moves on to the next chunk with it.
        """
        current: list[_Piece] = []
        carry = ""
        for piece in pieces:
            size = sum(len(p.text) + 2 for p in current) + len(piece.text) + len(carry)
            together = bool(current) and (
                current[-1].glued or (piece.kind is current[-1].kind is BlockKind.LIST_ITEM)
            )
            limit = self.target + self.overlap if together else self.target
            if current and size > limit:
                moved = [current.pop()] if current[-1].glued and len(current) > 1 else []
                yield _emit(carry, current)
                carry = _tail(current[-1], self.overlap)
                current = moved
            current.append(piece)
        if current:
            yield _emit(carry, current)


def _introduces(pieces: list[_Piece]) -> bool:
    return bool(pieces) and pieces[-1].glued


def _emit(carry: str, pieces: list[_Piece]) -> tuple[str, int | None, int, int, bool]:
    body = BLOCK_SEPARATOR.join(p.text for p in pieces)
    if carry and pieces[0].kind is BlockKind.PARAGRAPH and not pieces[0].glued:
        text = f"{carry} {body}"
    else:
        text = f"{carry}{BLOCK_SEPARATOR}{body}" if carry else body
    end = pieces[-1].start + len(pieces[-1].text)
    return text, pieces[0].page, pieces[0].start, end, any(p.ocr for p in pieces)


def _fenced(lines: list[str], block: Block, offset: int) -> _Piece:
    text = "\n".join([FENCE, *lines, FENCE])
    return _Piece(text, block.page, offset, BlockKind.CODE, block.ocr)


def _tail(piece: _Piece, limit: int) -> str:
    """The last whole sentences of a prose piece that fit in ``limit`` characters (none
    from code, lists or tables, whose pieces make no sense without their start)."""
    if limit == 0 or piece.kind is not BlockKind.PARAGRAPH or piece.glued:
        return ""
    tail: list[str] = []
    for sentence in reversed(split_sentences(piece.text)):
        if sum(len(s) + 1 for s in tail) + len(sentence) > limit:
            break
        tail.insert(0, sentence.strip())
    return " ".join(tail)


def _join(units: list[str], block: Block) -> str:
    return ("\n" if block.kind is BlockKind.TABLE else " ").join(u.strip() for u in units)


def _hard_wrap(units: list[str], limit: int) -> Iterator[str]:
    """Units no longer than ``limit``: an overlong sentence is cut at spaces (or anywhere)."""
    for unit in units:
        while len(unit) > limit:
            cut = unit.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            yield unit[:cut]
            unit = unit[cut:].lstrip()
        if unit:
            yield unit
