"""Markdown loader: CommonMark plus GFM tables, parsed with markdown-it-py.

ATX and setext headings keep their level; paragraphs, list items, fenced and indented
code, and tables become blocks. Front matter (YAML ``---``, TOML ``+++``, and Pandoc
``%`` lines) is not content: it is dropped, its ``title`` kept as a title candidate.
MyST directives (```` ```{note} ````) hold prose, and are read as Markdown themselves.
Images and raw HTML tags inside text are dropped; HTML blocks keep their readable text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

from knowledge.documents import Block, BlockKind, LoadedDocument
from knowledge.errors import UnreadableDocument
from knowledge.loaders.html import fragment_text
from knowledge.loaders.textblocks import (
    clean_line,
    clean_text,
    fallback_title,
    join_lines,
    meaningful_title,
)

MARKDOWN_MIME = "text/markdown"
_FRONT_MATTER = re.compile(
    r"\A(?:---|\+\+\+)[ \t]*\n(.*?)\n(?:---|\+\+\+|\.\.\.)[ \t]*(?:\n|\Z)", re.S
)
_PANDOC_TITLE_BLOCK = re.compile(r"\A(?:%[^\n]*\n)+")
_FRONT_MATTER_TITLE = re.compile(r"^title\s*[:=]\s*[\"']?(.*?)[\"']?\s*$", re.M | re.I)
_DIRECTIVE = re.compile(r"^\{([\w:-]+)\}")
_DIRECTIVE_OPTION = re.compile(r"\A(?:[ \t]*:[\w-]+:[^\n]*\n)+")
_CODE_DIRECTIVES = frozenset({"code", "code-block", "code-cell", "sourcecode", "literalinclude"})


def load_markdown(text: str, name: str) -> LoadedDocument:
    """A Markdown document's blocks, with its first level-1 heading as its title."""
    body, front_title = _strip_front_matter(text)
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    blocks = markdown_blocks(parser, body)
    if not blocks:
        raise UnreadableDocument(name, "it contains no text")
    first_h1 = next((b.text for b in blocks if b.kind is BlockKind.HEADING and b.level == 1), None)
    return LoadedDocument(
        title=meaningful_title(first_h1) or meaningful_title(front_title) or fallback_title(name),
        source=name,
        mime_type=MARKDOWN_MIME,
        blocks=tuple(blocks),
    )


def _strip_front_matter(text: str) -> tuple[str, str | None]:
    text = text.lstrip("\ufeff")
    match = _FRONT_MATTER.match(text)
    if match:
        found = _FRONT_MATTER_TITLE.search(match.group(1))
        return text[match.end() :], found.group(1) if found else None
    pandoc = _PANDOC_TITLE_BLOCK.match(text)
    if pandoc:
        first = pandoc.group().split("\n", 1)[0].lstrip("% ").strip()
        title = None if first.upper().startswith("SPDX-") else first
        return text[pandoc.end() :], title
    return text, None


def markdown_blocks(parser: MarkdownIt, text: str) -> list[Block]:
    """The blocks of a Markdown text, in reading order."""
    tokens = parser.parse(text)
    blocks: list[Block] = []
    list_depth = 0
    row: list[str] | None = None
    table: list[str] = []
    for index, token in enumerate(tokens):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif kind in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            if any(row):
                table.append(" | ".join(row))
            row = None
        elif kind == "table_close":
            if table:
                blocks.append(Block(BlockKind.TABLE, "\n".join(table)))
            table = []
        elif kind == "inline":
            _inline(tokens, index, row, list_depth, blocks)
        elif kind in ("fence", "code_block"):
            blocks += _code(parser, token)
        elif kind == "html_block":
            _append(blocks, BlockKind.PARAGRAPH, fragment_text(token.content))
    return blocks


def _inline(
    tokens: Sequence[Token], index: int, row: list[str] | None, depth: int, blocks: list[Block]
) -> None:
    """Place an inline token by what opened it: heading, table cell, or paragraph."""
    text = _inline_text(tokens[index].children or [])
    opener = tokens[index - 1] if index else None
    if row is not None:
        row.append(clean_line(text.replace("\n", " ")))
    elif opener is not None and opener.type == "heading_open":
        level = int(opener.tag[1:]) if opener.tag[1:].isdigit() else 1
        heading = clean_line(text.replace("\n", " "))
        if heading:
            blocks.append(Block(BlockKind.HEADING, heading, level=level))
    else:
        _append(blocks, BlockKind.LIST_ITEM if depth else BlockKind.PARAGRAPH, text)


def _inline_text(children: Sequence[Token]) -> str:
    """The text of inline content; wrapped source lines are joined back into one."""
    parts = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return join_lines("".join(parts).split("\n"))


def _code(parser: MarkdownIt, token: Token) -> list[Block]:
    """A code block, or the prose of a MyST directive written as a fence."""
    directive = _DIRECTIVE.match(token.info.strip()) if token.type == "fence" else None
    if directive and directive.group(1) not in _CODE_DIRECTIVES:
        return markdown_blocks(parser, _DIRECTIVE_OPTION.sub("", token.content))
    code = token.content.rstrip("\n")
    return [Block(BlockKind.CODE, code)] if code.strip() else []


def _append(blocks: list[Block], kind: BlockKind, text: str) -> None:
    cleaned = clean_text(text)
    if cleaned:
        blocks.append(Block(kind, cleaned))
