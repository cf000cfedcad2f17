"""DOCX loader: headings, paragraphs, list items and tables, with python-docx.

A DOCX is a ZIP archive, so before anything decompresses it its directory is checked
against the limits: the total unpacked size and each member's compression ratio. A
small file that unpacks to gigabytes (a zip bomb) is refused without being unpacked.
Headers and footers are read once each, however many sections repeat them.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from typing import cast

import docx
from docx.document import Document
from docx.oxml.ns import qn
from docx.oxml.table import CT_Tbl
from docx.oxml.text.paragraph import CT_P
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

from knowledge.documents import Block, BlockKind, Limits, LoadedDocument
from knowledge.errors import DocumentTooLarge, UnreadableDocument
from knowledge.loaders.sizes import size_text
from knowledge.loaders.textblocks import clean_line, clean_text, fallback_title, meaningful_title

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_RATIO_FLOOR = 1024 * 1024  # members smaller than this unpacked cannot hurt, whatever their ratio
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
# Text-bearing run content, in document order: tracked insertions, hyperlinks, fields and
# inline content controls included; moved-away text and the fallback copy of a text box
# (Word stores text boxes twice) left out.
_RUN_CONTENT = " | ".join(
    f".//w:r/w:{tag}[not(ancestor::w:moveFrom) and not(ancestor::*[local-name()='Fallback'])]"
    for tag in ("t", "tab", "br", "cr", "noBreakHyphen")
)
_W_P, _W_TBL, _W_SDT, _W_SDT_CONTENT, _W_CUSTOM_XML = (
    qn(f"w:{tag}") for tag in ("p", "tbl", "sdt", "sdtContent", "customXml")
)
_RUN_TEXT = {"tab": " ", "br": "\n", "cr": "\n", "noBreakHyphen": "-"}


def check_archive(data: bytes, name: str, limits: Limits) -> None:
    """Refuse a ZIP whose directory promises more than the limits allow (a zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UnreadableDocument(name, f"the DOCX file is damaged ({exc})") from exc
    total = sum(member.file_size for member in members)
    if total > limits.max_unzipped_bytes:
        raise DocumentTooLarge(
            name,
            f"its unpacked content ({size_text(total)})",
            size_text(limits.max_unzipped_bytes),
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= _RATIO_FLOOR and ratio > limits.max_zip_ratio:
            raise DocumentTooLarge(
                name,
                f"the compression ratio of {member.filename} ({ratio:.0f} to 1, a zip bomb?)",
                f"{limits.max_zip_ratio:.0f} to 1",
            )


def load_docx(data: bytes, name: str, limits: Limits) -> LoadedDocument:
    """The document in a DOCX file; raises if it is a zip bomb or damaged."""
    check_archive(data, name, limits)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors...
        raise UnreadableDocument(name, "the DOCX file is damaged or not a Word document") from exc
    headers, footers = _headers_and_footers(document)
    blocks = [*headers, *_blocks(_body(document.element.body, document)), *footers]
    if not blocks:
        raise UnreadableDocument(name, "it contains no text")
    title = meaningful_title(document.core_properties.title) or next(
        (b.text for b in blocks if b.kind is BlockKind.HEADING and b.level == 1), None
    )
    return LoadedDocument(
        title=title or fallback_title(name),
        source=name,
        mime_type=DOCX_MIME,
        blocks=tuple(blocks),
    )


def _blocks(items: Iterable[Paragraph | Table]) -> Iterator[Block]:
    for item in items:
        if isinstance(item, Table):
            table = _table_text(item)
            if table:
                yield Block(BlockKind.TABLE, table)
            continue
        text = clean_text(_paragraph_text(item))
        if text:
            level = _heading_level(item)
            if level:
                yield Block(BlockKind.HEADING, text.replace("\n", " "), level=level)
            elif _is_list_item(item):
                yield Block(BlockKind.LIST_ITEM, text)
            else:
                yield Block(BlockKind.PARAGRAPH, text)


def _paragraph_text(paragraph: Paragraph) -> str:
    parts = []
    for node in paragraph._p.xpath(_RUN_CONTENT):
        tag = node.tag.rsplit("}", 1)[-1]
        parts.append(node.text or "" if tag == "t" else _RUN_TEXT[tag])
    return "".join(parts)


def _body(element: BaseOxmlElement, parent: Document) -> Iterator[Paragraph | Table]:
    """Body paragraphs and tables in order, including those inside content controls."""
    for child in element.iterchildren():
        if child.tag == _W_P:
            yield Paragraph(cast(CT_P, child), parent)
        elif child.tag == _W_TBL:
            yield Table(cast(CT_Tbl, child), parent)
        elif child.tag == _W_SDT:
            content = child.find(_W_SDT_CONTENT)
            if content is not None:
                yield from _body(content, parent)
        elif child.tag == _W_CUSTOM_XML:
            yield from _body(child, parent)


def _heading_level(paragraph: Paragraph) -> int:
    """1-9 for headings (by style name or outline level), 0 for body text."""
    style = paragraph.style
    if style is not None and style.name:
        if style.name.lower() == "title":
            return 1
        match = _HEADING_STYLE.match(style.name)
        if match:
            return max(int(match.group(1)), 1)
    for element in (paragraph._p, style.element if style is not None else None):
        if element is None:
            continue
        levels = element.xpath("./w:pPr/w:outlineLvl/@w:val")
        if levels and str(levels[0]).isdigit() and int(levels[0]) < 9:
            return int(levels[0]) + 1
    return 0


def _is_list_item(paragraph: Paragraph) -> bool:
    properties = paragraph._p.pPr
    if properties is not None and properties.numPr is not None:
        return True
    style = paragraph.style
    return style is not None and (style.name or "").lower().startswith("list")


def _table_text(table: Table) -> str:
    """Rows as lines, cells joined with " | "; a merged cell's text appears once."""
    lines = []
    for tr in table._tbl.tr_lst:
        cells = []
        for tc in tr.tc_lst:
            continued = tc.tcPr is not None and tc.tcPr.vMerge == "continue"
            cells.append("" if continued else _cell_text(_Cell(tc, table)))
        if any(cells):
            lines.append(" | ".join(cells).rstrip(" |"))
    return "\n".join(lines)


def _cell_text(cell: _Cell) -> str:
    parts = []
    for item in cell.iter_inner_content():
        if isinstance(item, Table):
            parts.append(_table_text(item).replace("\n", "; "))
        else:
            parts.append(clean_line(_paragraph_text(item).replace("\n", " ")))
    return " ".join(part for part in parts if part)


def _headers_and_footers(document: Document) -> tuple[list[Block], list[Block]]:
    """The text of each distinct header and footer that the document shows."""
    seen: set[tuple[str, ...]] = set()
    headers: list[Block] = []
    footers: list[Block] = []
    even_pages = document.settings.odd_and_even_pages_header_footer
    for section in document.sections:
        first_page = section.different_first_page_header_footer
        parts = [
            (section.header, headers, True),
            (section.first_page_header, headers, first_page),
            (section.even_page_header, headers, even_pages),
            (section.footer, footers, True),
            (section.first_page_footer, footers, first_page),
            (section.even_page_footer, footers, even_pages),
        ]
        for part, target, shown in parts:
            if not shown or part.is_linked_to_previous:
                continue
            blocks = [_as_paragraph(b) for b in _blocks(part.iter_inner_content())]
            key = tuple(b.text for b in blocks)
            if blocks and key not in seen:
                seen.add(key)
                target += blocks
    return headers, footers


def _as_paragraph(block: Block) -> Block:
    """Header and footer text, kept as plain paragraphs: never part of the outline."""
    text = block.text.replace("\n", " | ") if block.kind is BlockKind.TABLE else block.text
    return Block(BlockKind.PARAGRAPH, text)
