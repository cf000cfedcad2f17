"""Chunking that follows a document's structure.

Chunks never cross a heading: each belongs to one section and carries its heading path.
Paragraphs are packed up to a target size; a paragraph or table too big for one chunk is
split at sentence or row boundaries (a table's header row is repeated in each piece), and
consecutive pieces of one section overlap by a few sentences so that an answer spanning
a boundary is still found. Chunk ids are hashes of the document id, position and text,
so chunking the same document again gives the same ids.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from knowledge.documents import Block, BlockKind, LoadedDocument

#: the last part of the section of a chunk read by OCR, so its citations say so
OCR_SECTION = "OCR"
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")
BLOCK_SEPARATOR = "\n\n"


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
    ocr: bool = False


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
        for block in blocks:
            text = block.text.strip()
            if not text:
                continue
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
        """The block as pieces no longer than the target."""
        if len(text) <= self.target:
            return [_Piece(text, block.page, offset, block.ocr)]
        if block.kind is BlockKind.TABLE:
            units, header = text.split("\n"), text.split("\n", 1)[0]
        else:
            units, header = [u for u in _SENTENCE_END.split(text) if u.strip()], None
        pieces: list[_Piece] = []
        current: list[str] = []
        position = offset
        for unit in _hard_wrap(units, self.target):
            candidate = [*current, unit]
            if current and len(" ".join(candidate)) > self.target:
                pieces.append(_Piece(_join(current, block), block.page, position, block.ocr))
                position += sum(len(u) + 1 for u in current)
                current = [header, unit] if header and unit != header else [unit]
            else:
                current = candidate
        if current:
            pieces.append(_Piece(_join(current, block), block.page, position, block.ocr))
        return pieces

    def _pack(self, pieces: list[_Piece]) -> Iterator[tuple[str, int | None, int, int, bool]]:
        """Group a section's pieces into chunks, each starting with a little overlap."""
        current: list[_Piece] = []
        carry = ""
        for piece in pieces:
            size = sum(len(p.text) + 2 for p in current) + len(piece.text) + len(carry)
            if current and size > self.target:
                yield _emit(carry, current)
                carry = _tail(current[-1].text, self.overlap)
                current = []
            current.append(piece)
        if current:
            yield _emit(carry, current)


def _emit(carry: str, pieces: list[_Piece]) -> tuple[str, int | None, int, int, bool]:
    body = BLOCK_SEPARATOR.join(p.text for p in pieces)
    text = f"{carry} {body}" if carry else body
    end = pieces[-1].start + len(pieces[-1].text)
    return text, pieces[0].page, pieces[0].start, end, any(p.ocr for p in pieces)


def _tail(text: str, limit: int) -> str:
    """The last whole sentences of ``text`` that fit in ``limit`` characters."""
    if limit == 0:
        return ""
    tail: list[str] = []
    for sentence in reversed([s for s in _SENTENCE_END.split(text) if s.strip()]):
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
