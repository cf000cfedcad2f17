"""HTML loader: the readable text of a page, with BeautifulSoup and lxml.

What a reader would not read is dropped first: scripts, styles, forms and their
controls, navigation, page-level header and footer landmarks, asides, and anything
hidden. Then the page is walked in order: headings keep their level, paragraphs, list
items, preformatted text and tables become their own blocks, and loose text inside a
``div`` becomes a paragraph of its own.
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import Comment, Doctype, NavigableString, ProcessingInstruction, Tag

from knowledge.documents import Block, BlockKind, LoadedDocument
from knowledge.errors import UnreadableDocument
from knowledge.loaders.textblocks import clean_line, clean_text, fallback_title, meaningful_title

HTML_MIME = "text/html"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_DROPPED = _words(
    "script style noscript template iframe object embed svg canvas math nav aside "
    "form button input select textarea option label dialog menu head"
)
_BLOCKS = _words(
    "address article aside blockquote body dd details div dl dt fieldset figcaption figure footer "
    "header hr li main ol p pre section summary table ul h1 h2 h3 h4 h5 h6 center"
)
_DROPPED_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_LANDMARK_PARENTS = frozenset({"article", "section", "main", "aside", "nav"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_SKIPPED_STRINGS = (Comment, Doctype, ProcessingInstruction)
_SPACES = re.compile(r"\s+")


def load_html(data: bytes | str, name: str, charset: str | None = None) -> LoadedDocument:
    """The readable text of an HTML page; ``charset`` is a declared (HTTP) encoding."""
    soup = _parse(data, charset)
    title_tag = soup.find("title")
    in_page = isinstance(title_tag, Tag) and title_tag.find_parent("svg") is None
    title = meaningful_title(title_tag.get_text(" ")) if in_page and title_tag else None
    blocks = html_blocks(soup)
    if not blocks:
        raise UnreadableDocument(name, "the page has no readable text")
    first_h1 = next((b.text for b in blocks if b.kind is BlockKind.HEADING and b.level == 1), None)
    return LoadedDocument(
        title=title or first_h1 or fallback_title(name),
        source=name,
        mime_type=HTML_MIME,
        blocks=tuple(blocks),
    )


def _parse(data: bytes | str, charset: str | None) -> BeautifulSoup:
    if isinstance(data, bytes):
        return BeautifulSoup(data, "lxml", from_encoding=charset)
    return BeautifulSoup(data, "lxml")


def fragment_text(markup: str) -> str:
    """The readable text of an HTML fragment (for HTML embedded in Markdown)."""
    if "<" not in markup:
        return clean_text(markup)
    return "\n".join(block.text for block in html_blocks(BeautifulSoup(markup, "lxml")))


def html_blocks(soup: BeautifulSoup) -> list[Block]:
    """The blocks of a parsed page, after dropping what a reader would not read."""
    for tag in [*soup.find_all(list(_DROPPED)), *soup.find_all(_is_unread)]:
        if isinstance(tag, Tag) and not tag.decomposed:  # inside one already dropped
            tag.decompose()
    root = soup.find("main") or soup.find(None, {"role": "main"}) or soup.body or soup
    blocks: list[Block] = []
    if isinstance(root, Tag):
        _walk(root, blocks)
    return blocks


def _is_unread(tag: Tag) -> bool:
    """Hidden elements, and landmark headers, footers and navigation by role."""
    if tag.name in ("html", "body"):
        return False  # pages hide <body> until their script runs: the text is still there
    if tag.has_attr("hidden") or tag.get("aria-hidden") == "true":
        return True
    if _HIDDEN_STYLE.search(str(tag.get("style") or "")):
        return True
    if tag.get("role") in _DROPPED_ROLES:
        return True
    if tag.name in ("header", "footer"):
        return not any(parent.name in _LANDMARK_PARENTS for parent in tag.parents)
    return False


def _walk(container: Tag, blocks: list[Block]) -> None:
    """Append the blocks of ``container``; loose inline text becomes a paragraph."""
    inline: list[str] = []
    for child in container.children:
        if isinstance(child, Tag) and child.name in _BLOCKS:
            _flush(inline, blocks)
            _block(child, blocks)
        elif isinstance(child, Tag):
            inline.append(_inline_text(child))
        elif isinstance(child, NavigableString) and not isinstance(child, _SKIPPED_STRINGS):
            inline.append(_SPACES.sub(" ", str(child)))
    _flush(inline, blocks)


def _block(tag: Tag, blocks: list[Block]) -> None:
    name = tag.name
    if name in _HEADINGS:
        text = clean_line(_inline_text(tag).replace("\n", " "))
        if text:
            blocks.append(Block(BlockKind.HEADING, text, level=_HEADINGS[name]))
    elif name == "pre":
        text = tag.get_text().strip("\n")
        if text.strip():
            blocks.append(Block(BlockKind.CODE, text))
    elif name == "table":
        text = _table_text(tag)
        if text:
            blocks.append(Block(BlockKind.TABLE, text))
    elif name == "li":
        nested = list(tag.find_all(["ul", "ol"], recursive=False))
        for child in nested:
            child.extract()
        text = _inline_text(tag)
        _append(blocks, BlockKind.LIST_ITEM, text)
        for child in nested:
            _walk(child, blocks)
    elif name == "p" or (name in ("dt", "dd", "figcaption", "summary") and not _has_blocks(tag)):
        _append(blocks, BlockKind.PARAGRAPH, _inline_text(tag))
    elif name != "hr":
        _walk(tag, blocks)


def _has_blocks(tag: Tag) -> bool:
    return any(isinstance(child, Tag) and child.name in _BLOCKS for child in tag.descendants)


def _inline_text(tag: Tag) -> str:
    """The text of an element, with <br> as a line break and other whitespace collapsed."""
    parts = []
    for node in tag.descendants:
        if isinstance(node, Tag) and node.name == "br":
            parts.append("\n")
        elif isinstance(node, Tag) and (node.name in _BLOCKS or node.name in ("td", "th")):
            parts.append(" ")  # nested blocks (a table in a cell) stay apart from the text before
        elif isinstance(node, NavigableString) and not isinstance(node, _SKIPPED_STRINGS):
            parts.append(_SPACES.sub(" ", str(node)))
    return "".join(parts)


def _flush(inline: list[str], blocks: list[Block]) -> None:
    _append(blocks, BlockKind.PARAGRAPH, "".join(inline))
    inline.clear()


def _append(blocks: list[Block], kind: BlockKind, text: str) -> None:
    cleaned = clean_text(text)
    if cleaned:
        blocks.append(Block(kind, cleaned))


def _table_text(table: Tag) -> str:
    """Rows as lines, cells joined with " | " (nested tables flattened into their cell)."""
    lines = []
    for row in table.find_all("tr"):
        if not isinstance(row, Tag) or row.find_parent("table") is not table:
            continue
        cells = [
            clean_line(_inline_text(cell).replace("\n", " "))
            for cell in row.find_all(["th", "td"], recursive=False)
            if isinstance(cell, Tag)
        ]
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)
