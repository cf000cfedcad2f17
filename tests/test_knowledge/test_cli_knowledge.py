"""``chorus ingest``, ``docs`` and ``ask`` as real subprocesses."""

from __future__ import annotations

from pathlib import Path

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
