"""``chorus ingest``, ``docs`` and ``ask`` as real subprocesses."""

from __future__ import annotations

import fcntl
import http.server
import os
import pty
import re
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import chorus

DOCS = Path(__file__).resolve().parents[3] / "shared" / "data" / "docs"
DOCX = "docx_hdr-header-footer.docx"
PDF = "pdf_ja_two_column_cid_jo.pdf"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: a drawn bar: "breathing.md [embedding]:  62%|████▍  | 00:01, Embedding passages…"
#: (before the first step, without a stage)
BAR = re.compile(r"^(?P<name>\S+?)(?: \[(?P<stage>\w+)\])?: +(?P<percent>\d+)%\|")


def test_ingest_docs_ask_and_delete(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    notes = tmp_path / "tea.md"
    notes.write_text("# Tea\n\n## Green\n\nGreen tea is brewed at 80 degrees for two minutes.\n")
    assert chorus("bot", "create", "Tea Shop", env=env).returncode == 0

    added = chorus("ingest", "tea-shop", str(notes), str(DOCS / DOCX), env=env)
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
    env = {"DATA_DIR": str(tmp_path / "data"), "MAX_OCR_PAGES": "0"}
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
    assert "no readable text, it looks scanned, and reading scans (OCR) is turned off" in errors
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


Step = tuple[str | None, int]


def bars(output: str) -> dict[str, list[tuple[str | None, int]]]:
    """What the progress bars on a terminal showed, per document: (stage, percent) in the
    order drawn."""
    shown: dict[str, list[tuple[str | None, int]]] = {}
    for frame in re.split(r"[\r\n]", ANSI.sub("", output)):
        if found := BAR.match(frame.strip()):
            name, stage, percent = found.group("name", "stage", "percent")
            shown.setdefault(name, []).append((stage, int(percent)))
    return shown


def ingest_on_a_terminal(data_dir: Path, *paths: Path) -> tuple[str, dict[str, list[Step]]]:
    """``chorus ingest demo PATHS`` with stderr on a terminal (so the bars are drawn):
    what it printed, and the bars it drew."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "ingest", "demo", *map(str, paths)],
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, "DATA_DIR": str(data_dir)},
    )
    os.close(follower)
    drawn = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    printed, _ = process.communicate(timeout=180)
    assert process.returncode == 0, drawn[-2000:]
    return printed.decode(), bars(drawn.decode(errors="replace"))


def test_ingest_shows_one_bar_per_document_from_0_to_100_with_its_stage(tmp_path: Path) -> None:
    notes = tmp_path / "breathing.md"
    sections = [
        f"## Exercise {n}\n\n" + f"Breathe in for {n} counts, hold, and breathe out slowly. " * 6
        for n in range(1, 40)
    ]
    notes.write_text("# Breathing\n\n" + "\n\n".join(sections))
    printed, shown = ingest_on_a_terminal(tmp_path / "data", notes, DOCS / DOCX, DOCS / PDF)
    assert printed.count("added ") == 3
    # a bar per document, then one for the vectors, computed once the documents are in
    assert set(shown) == {"breathing.md", DOCX, PDF, "vectors"}, shown
    for name, steps in shown.items():
        percents = [percent for _, percent in steps]
        assert percents == sorted(percents), (name, steps)  # never backwards
        assert (percents[0], percents[-1]) == (0, 100), (name, steps)
        stages = list(dict.fromkeys(stage for stage, _ in steps if stage))
        expected = (
            ["embedding"] if name == "vectors" else ["reading", "chunking", "indexing", "done"]
        )
        assert stages == expected, (name, steps)


def test_a_scanned_brochure_is_read_with_ocr_and_answers_cite_it_as_ocr(tmp_path: Path) -> None:
    brochure = DOCS / "pdf_scanned_no_text_layer_linn_brochure.pdf"
    printed, shown = ingest_on_a_terminal(tmp_path / "data", brochure)
    assert printed.startswith("added ")
    assert "The LinnSequencer" in printed
    steps = shown[brochure.name]
    stages = list(dict.fromkeys(stage for stage, _ in steps if stage))
    assert stages == ["reading", "ocr", "chunking", "indexing", "done"], steps
    percents = [percent for _, percent in steps]
    assert percents == sorted(percents)
    assert (percents[0], percents[-1]) == (0, 100)

    env = {"DATA_DIR": str(tmp_path / "data")}
    asked = chorus("ask", "demo", "How many MIDI channels can a track be assigned to?", env=env)
    out = asked.stdout.decode()
    assert "Each track may be assigned to one of 16 MIDI channels" in out, out
    assert "The LinnSequencer 32 Track MIDI Sequence Recorder (p. 1, OCR)" in out, out


COOKBOOK = DOCS / "md_ocrmypdf_cookbook.md"


def test_questions_in_another_language_are_answered_from_english_documents(
    tmp_path: Path,
) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    assert chorus("bot", "create", "OCR Help", env=env).returncode == 0
    assert chorus("ingest", "ocr-help", str(COOKBOOK), env=env).returncode == 0
    asked = chorus("ask", "ocr-help", "Как исправить поворот страниц?", env=env)
    out = asked.stdout.decode()
    assert "does not cover" not in out, out
    assert "Correct page rotation" in out
    off = chorus("ask", "ocr-help", "How do I remove a red wine stain?", env=env)
    assert "does not cover this question" in off.stdout.decode()


def test_a_changed_embedding_model_is_reported_and_reindexed(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    notes = tmp_path / "tea.md"
    notes.write_text("# Tea\n\n## Green\n\nGreen tea is brewed at 80 degrees for two minutes.\n")
    assert chorus("bot", "create", "Tea Shop", env=env).returncode == 0
    minilm = {**env, "EMBEDDING_MODEL": "minilm"}
    assert chorus("ingest", "tea-shop", str(notes), env=minilm).returncode == 0

    listed = chorus("docs", "tea-shop", env=env)  # e5, the default, is configured now
    hint = listed.stderr.decode()
    assert "tea-shop: the vectors of 1 passage are by all-MiniLM-L6-v2-int8" in hint
    assert "chorus reindex tea-shop" in hint
    # found by its words meanwhile
    asked = chorus("ask", "tea-shop", "How hot should green tea be brewed?", env=env)
    assert "80 degrees" in asked.stdout.decode()

    reindexed = chorus("reindex", "tea-shop", env=env)
    assert reindexed.returncode == 0, reindexed.stderr.decode()
    assert reindexed.stdout.decode() == (
        "tea-shop: embedded 1 passage with multilingual-e5-small-q4; 1 of 1 now have its vectors\n"
    )
    assert "reindex" not in chorus("docs", "tea-shop", env=env).stderr.decode()
    again = chorus("reindex", "tea-shop", env=env).stdout.decode()
    assert again.startswith("tea-shop: embedded 0 passages")
    forced = chorus("reindex", "tea-shop", "--force", env=env).stdout.decode()
    assert forced.startswith("tea-shop: embedded 1 passage with")
    assert chorus("reindex", "nobody", env=env).returncode == 2


def embedded(database: Path, bot: str) -> int:
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM chunks WHERE bot_id = ? AND embedder IS NOT NULL", (bot,)
        ).fetchone()
    return int(count)


def test_an_ingestion_killed_while_embedding_is_finished_later(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"DATA_DIR": str(data)}
    notes = tmp_path / "exercises.md"
    sections = [
        f"## Exercise {n}\n\n" + f"Exercise {n}: breathe in for {n % 7 + 2} counts. " * 12
        for n in range(1, 200)
    ]
    notes.write_text("# Exercises\n\n" + "\n\n".join(sections))
    assert chorus("bot", "create", "Coach", env=env).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "ingest", "coach", str(notes)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    added = process.stdout.readline().decode()
    assert added.startswith("added "), added  # stored: the vectors are being computed
    total = int(added.split("(")[1].split()[0])
    deadline = time.monotonic() + 120
    while embedded(data / "chorus.db", "coach") == 0:  # a batch stored, the rest to do
        assert time.monotonic() < deadline
        time.sleep(0.2)
    process.kill()
    process.wait()
    process.stdout.close()
    done = embedded(data / "chorus.db", "coach")
    assert 0 < done < total

    listed = chorus("docs", "coach", env=env).stderr.decode()
    assert f"coach: {total - done} passages without vectors yet" in listed
    finished = chorus("reindex", "coach", env=env)
    assert finished.stdout.decode() == (
        f"coach: embedded {total - done} passages with multilingual-e5-small-q4; "
        f"{total} of {total} now have its vectors\n"
    )
