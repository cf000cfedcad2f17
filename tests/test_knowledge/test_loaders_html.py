"""The HTML loader on the shared real pages and on a page full of boilerplate."""

from __future__ import annotations

import pytest

from knowledge.documents import Block, BlockKind
from knowledge.errors import UnreadableDocument
from knowledge.loaders import load_bytes
from tests.test_knowledge.loader_samples import shared, shared_names

PAGE = b"""<!DOCTYPE html>
<html><head><title>Morning Rituals | Calm Studio</title>
<style>p { color: red }</style><script>var secret = "script text";</script></head>
<body>
<header><nav><a href="/">Home</a> <a href="/shop">Shop</a></nav><h1>Calm Studio</h1></header>
<main>
  <article>
    <header><h1>Morning Rituals</h1></header>
    <p>Start the day <b>slowly</b>, with<br>three deep breaths.</p>
    <h2>Steps</h2>
    <ol><li>Wake up<ul><li>No phone</li></ul></li><li>Stretch</li></ol>
    <pre>inhale  4
exhale  6</pre>
    <table><tr><th>Step</th><th>Minutes</th></tr><tr><td>Breathe</td><td>5</td></tr></table>
    <div>Loose text in a div <span>with a span</span><p>and a paragraph inside</p></div>
    <p hidden>hidden attribute</p>
    <p style="display:none">display none</p>
    <div aria-hidden="true">aria hidden</div>
    <aside>Related: evening rituals</aside>
    <form><label>Email</label><input name="email"><button>Subscribe</button></form>
    <noscript>Enable JavaScript</noscript>
  </article>
</main>
<footer>&copy; 2025 Calm Studio</footer>
</body></html>"""


def test_boilerplate_is_dropped_and_structure_kept() -> None:
    document = load_bytes(PAGE, "rituals.html")
    assert document.title == "Morning Rituals | Calm Studio"
    assert document.mime_type == "text/html"
    assert document.blocks == (
        Block(BlockKind.HEADING, "Morning Rituals", level=1),
        Block(BlockKind.PARAGRAPH, "Start the day slowly, with\nthree deep breaths."),
        Block(BlockKind.HEADING, "Steps", level=2),
        Block(BlockKind.LIST_ITEM, "Wake up"),
        Block(BlockKind.LIST_ITEM, "No phone"),
        Block(BlockKind.LIST_ITEM, "Stretch"),
        Block(BlockKind.CODE, "inhale  4\nexhale  6"),
        Block(BlockKind.TABLE, "Step | Minutes\nBreathe | 5"),
        Block(BlockKind.PARAGRAPH, "Loose text in a div with a span"),
        Block(BlockKind.PARAGRAPH, "and a paragraph inside"),
    )


def test_without_a_title_tag_the_first_h1_is_the_title() -> None:
    page = b"<html><body><h2>Intro</h2><h1>Sleep Stories</h1><p>Once upon a time.</p></body></html>"
    assert load_bytes(page, "x.html").title == "Sleep Stories"


@pytest.mark.parametrize("name", shared_names("html_*.html"))
def test_shared_pages_keep_no_script_or_style(name: str) -> None:
    document = load_bytes(shared(name), name)
    text = "\n".join(block.text for block in document.blocks)
    assert document.blocks
    for leftover in ("function", "addEventListener", "font-family", "{", "Send «Hello"):
        assert leftover not in text


def test_a_page_hidden_until_its_script_runs_is_still_read() -> None:
    # the aiogram demo sets <body style="visibility: hidden;"> and reveals it from JS
    document = load_bytes(shared("html_aiogram_webapp_demo.html"), "demo.html")
    assert Block(BlockKind.PARAGRAPH, "Test links:") in document.blocks
    assert Block(BlockKind.LIST_ITEM, "Regular link #1 (opens inside webview)") in document.blocks
    assert "Checking hash..." not in [block.text for block in document.blocks]  # display:none
    assert document.title == "demo"  # no <title>, no <h1>: the file name


def test_the_websocket_example_keeps_heading_and_status_only() -> None:
    document = load_bytes(shared("html_aiohttp_websocket_example.html"), "ws.html")
    assert document.blocks[0] == Block(BlockKind.HEADING, "Chat!", level=3)
    assert "Status: disconnected" in document.blocks[1].text
    assert len(document.blocks) == 2


def test_a_declared_charset_is_honoured() -> None:
    page = '<html><head><meta charset="windows-1252"></head><body><p>Crème brûlée</p></body>'
    document = load_bytes(page.encode("cp1252"), "dessert.html")
    assert document.blocks == (Block(BlockKind.PARAGRAPH, "Crème brûlée"),)


def test_utf8_content_wins_over_a_wrong_http_charset() -> None:
    page = "<p>Crème brûlée</p>".encode()
    document = load_bytes(page, "x.html", mime_type="text/html; charset=ISO-8859-1")
    assert document.blocks == (Block(BlockKind.PARAGRAPH, "Crème brûlée"),)
    latin = "<p>Crème brûlée</p>".encode("latin-1")
    document = load_bytes(latin, "y.html", mime_type="text/html; charset=ISO-8859-1")
    assert document.blocks == (Block(BlockKind.PARAGRAPH, "Crème brûlée"),)


def test_a_page_with_nothing_to_read_is_refused() -> None:
    page = b"<!doctype html><html><body><script>x()</script><nav>Menu</nav></body></html>"
    with pytest.raises(UnreadableDocument, match="no readable text"):
        load_bytes(page, "empty.html")
