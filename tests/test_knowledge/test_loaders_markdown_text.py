"""The Markdown and plain-text loaders, on the shared files and on every encoding we meet."""

from __future__ import annotations

import codecs

import pytest

from knowledge.documents import Block, BlockKind
from knowledge.loaders import load_bytes
from tests.test_knowledge.loader_samples import shared, shared_names

MARKDOWN = """---
title: Front Matter Title
tags: [calm]
---

Guide to Calm
=============

Intro paragraph that is
wrapped over two lines.

Setext second level
-------------------

## ATX second level ##

- first item
- second item
  - nested item

1. numbered

```python
print("hello")
```

    indented code

| Name | Minutes |
|------|--------:|
| Breathe | 5 |
| Walk | 20 |

> A quote.

![badge](https://example.com/badge.svg) Text after an image with <b>inline</b> HTML.

```{note}
A MyST note is prose.
```
"""


def test_markdown_structure() -> None:
    document = load_bytes(MARKDOWN.encode(), "guide.md")
    assert document.title == "Guide to Calm"
    assert document.mime_type == "text/markdown"
    assert document.blocks == (
        Block(BlockKind.HEADING, "Guide to Calm", level=1),
        Block(BlockKind.PARAGRAPH, "Intro paragraph that is wrapped over two lines."),
        Block(BlockKind.HEADING, "Setext second level", level=2),
        Block(BlockKind.HEADING, "ATX second level", level=2),
        Block(BlockKind.LIST_ITEM, "first item"),
        Block(BlockKind.LIST_ITEM, "second item"),
        Block(BlockKind.LIST_ITEM, "nested item"),
        Block(BlockKind.LIST_ITEM, "numbered"),
        Block(BlockKind.CODE, 'print("hello")'),
        Block(BlockKind.CODE, "indented code"),
        Block(BlockKind.TABLE, "Name | Minutes\nBreathe | 5\nWalk | 20"),
        Block(BlockKind.PARAGRAPH, "A quote."),
        Block(BlockKind.PARAGRAPH, "Text after an image with inline HTML."),
        Block(BlockKind.PARAGRAPH, "A MyST note is prose."),
    )


def test_front_matter_title_is_used_without_a_level_one_heading() -> None:
    document = load_bytes(b"---\ntitle: 'Evening Wind-Down'\n---\n\n## Steps\n\nBreathe.\n", "e.md")
    assert document.title == "Evening Wind-Down"
    assert document.blocks[0] == Block(BlockKind.HEADING, "Steps", level=2)


@pytest.mark.parametrize("name", shared_names("md_*.md"))
def test_every_shared_markdown_file_is_read(name: str) -> None:
    document = load_bytes(shared(name), name)
    kinds = {block.kind for block in document.blocks}
    assert {BlockKind.HEADING, BlockKind.PARAGRAPH} <= kinds
    assert not any(block.text.startswith(("% SPDX", "<!--", "[![")) for block in document.blocks)


def test_pandoc_lines_are_not_content() -> None:
    document = load_bytes(shared("md_ocrmypdf_cookbook.md"), "cookbook.md")
    assert document.title == "Cookbook"
    assert document.blocks[0] == Block(BlockKind.HEADING, "Cookbook", level=1)
    assert Block(BlockKind.CODE, "ocrmypdf --help") in document.blocks


def test_chinese_markdown() -> None:
    document = load_bytes(shared("md_zh_ocrmypdf_readme.md"), "md_zh_ocrmypdf_readme.md")
    assert Block(BlockKind.HEADING, "主要功能", level=2) in document.blocks
    assert Block(BlockKind.LIST_ITEM, "保持原始嵌入图像的精确分辨率") in document.blocks
    assert document.title == "md_zh_ocrmypdf_readme"  # it has no level-1 heading


def test_gfm_tables_of_the_xquad_readme() -> None:
    document = load_bytes(shared("md_xquad_readme_tables.md"), "xquad.md")
    tables = [block for block in document.blocks if block.kind is BlockKind.TABLE]
    assert len(tables) == 3
    assert all(" | " in table.text and "\n" in table.text for table in tables)


def test_the_shared_legal_text() -> None:
    name = shared_names("txt_*.txt")[0]
    document = load_bytes(shared(name), name)
    assert (
        document.title == "Creative Commons Attribution-ShareAlike 4.0 International Public License"
    )
    assert document.mime_type == "text/plain"
    # a numbered section's line is the heading of what follows it
    assert Block(BlockKind.HEADING, "Section 1 – Definitions", level=2) in document.blocks
    assert all(len(block.text) < 3000 for block in document.blocks)  # one line, one paragraph


TEXT = (
    "Une tasse de thé\n\n"
    "Le café de la rue Saint-Honoré est réputé pour ses crêpes et sa crème brûlée.\n"
    "« Très bien », dit-il — à bientôt, naïve Zoë !\n\n"
    "• premier point\n• second point\n"
)
JAPANESE = (
    "日本語のテキストです。\n\n東京は日本の首都です。富士山は日本で一番高い山です。"
    "桜がきれいに咲いています。"
)
CHINESE = (
    "中文文本文件。\n\n北京是中国的首都，人口众多。长城是世界上最著名的建筑之一。我们喜欢喝茶。"
)


@pytest.mark.parametrize(
    ("encoded", "text"),
    [
        (TEXT.encode("utf-8"), TEXT),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), TEXT),
        (TEXT.encode("utf-16"), TEXT),  # with its byte-order mark
        (TEXT.encode("utf-16-le"), TEXT),  # without one
        (TEXT.encode("cp1252"), TEXT),
        (TEXT.replace("\n", "\r\n").encode("cp1252"), TEXT),
        (JAPANESE.encode("shift_jis"), JAPANESE),
        (CHINESE.encode("gb18030"), CHINESE),
    ],
    ids=["utf8", "utf8-bom", "utf16-bom", "utf16le", "cp1252", "cp1252-crlf", "sjis", "gb18030"],
)
def test_text_encodings_are_detected(encoded: bytes, text: str) -> None:
    document = load_bytes(encoded, "notes.txt")
    paragraphs = [part.replace("\n", " ") for part in text.strip().split("\n\n")]
    joined = "\n".join(block.text for block in document.blocks)
    for paragraph in paragraphs[:2]:
        assert paragraph in joined


def test_bullets_in_plain_text_are_list_items() -> None:
    document = load_bytes(TEXT.encode(), "notes.txt")
    assert document.title == "Une tasse de thé"
    assert document.blocks[-2:] == (
        Block(BlockKind.LIST_ITEM, "premier point"),
        Block(BlockKind.LIST_ITEM, "second point"),
    )


def test_wrapped_lines_are_joined_into_one_paragraph() -> None:
    wrapped = (
        b"Title\n\nThis paragraph was wrapped\nby an editor at a narrow\nwidth, like e-mail.\n"
    )
    document = load_bytes(wrapped, "mail.txt")
    assert (
        document.blocks[1].text
        == "This paragraph was wrapped by an editor at a narrow width, like e-mail."
    )
