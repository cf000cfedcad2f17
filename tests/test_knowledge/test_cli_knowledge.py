"""``chorus ingest``, ``docs`` and ``ask`` as real subprocesses."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import chorus

DOCS = Path(__file__).resolve().parents[3] / "shared" / "data" / "docs"


def test_ingest_docs_ask_and_delete(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    notes = tmp_path / "tea.md"
    notes.write_text("# Tea\n\n## Green\n\nGreen tea is brewed at 80 degrees for two minutes.\n")
    assert chorus("bot", "create", "Tea Shop", env=env).returncode == 0

    added = chorus(
        "ingest", "tea-shop", str(notes), str(DOCS / "docx_hdr-header-footer.docx"), env=env
    )
    assert added.returncode == 0, added.stderr.decode()
    lines = added.stdout.decode().splitlines()
    assert lines[0].startswith("added ")
    assert lines[0].endswith("Tea  (1 passage)")
    assert len(lines) == 2

    again = chorus("ingest", "tea-shop", str(notes), env=env)
    assert "already known, unchanged" in again.stdout.decode()

    listed = chorus("docs", "tea-shop", env=env).stdout.decode()
    assert "Tea  (1 passage)" in listed
    doc_id = listed.split()[0]

    asked = chorus("ask", "tea-shop", "How hot should the water be for green tea?", env=env)
    out = asked.stdout.decode()
    assert "80 degrees" in out
    assert "[1] Tea (Green)" in out
    assert "ms retrieval" in asked.stderr.decode()

    off = chorus("ask", "tea-shop", "Who painted the Mona Lisa?", env=env)
    assert "does not cover this question" in off.stdout.decode()

    deleted = chorus("docs", "tea-shop", "--delete", doc_id, env=env)
    assert deleted.returncode == 0
    assert deleted.stdout.decode().startswith(f"deleted {doc_id}")
    assert "Tea  (" not in chorus("docs", "tea-shop", env=env).stdout.decode()


def test_ingest_reports_bad_files_and_goes_on(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    good = tmp_path / "good.txt"
    good.write_text("Plain notes about breathing slowly before sleep.")
    result = chorus(
        "ingest",
        "demo",
        str(DOCS / "pdf_scanned_no_text_layer_huckfinn_p22.pdf"),
        str(tmp_path / "missing.pdf"),
        str(good),
        env=env,
    )
    assert result.returncode == 2
    errors = result.stderr.decode()
    assert "no readable text, it looks scanned" in errors
    assert "missing.pdf: cannot be opened" in errors
    assert "added " in result.stdout.decode()


def test_knowledge_commands_refuse_unknown_bots(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    for args in (("ingest", "nobody", "x.md"), ("docs", "nobody"), ("ask", "nobody", "hi")):
        result = chorus(*args, env=env)
        assert result.returncode == 2, args
        assert "unknown bot 'nobody'" in result.stderr.decode()
    bad = chorus("docs", "demo", "--delete", "nothing", env=env)
    assert bad.returncode == 2
    assert "has no document" in bad.stderr.decode()


class Answers(http.server.BaseHTTPRequestHandler):
    """A web server whose paths answer with their status: /404, /503, /200 a page."""

    def do_GET(self) -> None:
        status = int(self.path.strip("/") or 200)
        body = b"<h1>Opening hours</h1><p>We open at nine.</p>" if status == 200 else b""
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_refused_address_is_bad_input_and_a_server_failure_is_a_failure(
    tmp_path: Path, web_site: str
) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    # the SSRF guard refuses loopback addresses: the input is wrong, exit 2
    for url in (f"{web_site}/200", "http://169.254.169.254/latest/", "https://"):
        refused = chorus("ingest", "demo", url, env=env)
        assert refused.returncode == 2, (url, refused.stderr.decode())
        assert refused.stderr.decode().startswith(f"chorus: {url}: ")
    assert "private or local address" in chorus("ingest", "demo", web_site, env=env).stderr.decode()

    intranet = {**env, "ALLOW_PRIVATE_URLS": "true"}
    missing = chorus("ingest", "demo", f"{web_site}/404", env=intranet)
    assert missing.returncode == 2
    assert "the server answered 404" in missing.stderr.decode()
    # the server failed: the same command may work later, exit 1
    down = chorus("ingest", "demo", f"{web_site}/503", env=intranet)
    assert down.returncode == 1
    assert "the server answered 503" in down.stderr.decode()
    assert "try again later" in down.stderr.decode()
    # a refused address among failures is still bad input; the good page is learned
    mixed = chorus(
        "ingest", "demo", f"{web_site}/503", f"{web_site}/404", f"{web_site}/200", env=intranet
    )
    assert mixed.returncode == 2
    assert "Opening hours" in mixed.stdout.decode()
