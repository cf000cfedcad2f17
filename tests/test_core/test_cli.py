"""The ``chorus`` command line, run as a real subprocess."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import chorus


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The command's environment: SQLite under its data directory, or a PostgreSQL
    database of the test's own (a bot one test changes is not another test's)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("own_postgres_url")
        return {"DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data")}
    return {"DATA_DIR": str(tmp_path / "data")}


def test_piped_chat_prints_replies_and_exits_cleanly(env: dict[str, str]) -> None:
    result = chorus("chat", "demo", "--user", "piped", env=env, stdin=b"2\nsleeping better\n4\n")
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    lines = out.splitlines()
    # a transcript: the greeting, then each line the user sent and the bot's replies under
    # its name
    assert lines[0].startswith("Mira> Hello, I'm Mira")
    assert "        2) Guided meditation" in lines
    assert lines.index("you> 2") < lines.index("you> sleeping better") < lines.index("you> 4")
    assert any(line.startswith("Mira> What would you like it to help you with?") for line in lines)
    assert "What would you like it to help you with?" in out
    assert "When will you use it?" in out
    assert "How are you feeling" in out  # "4" pressed Bedtime
    # the conversation continues where it was in the next run
    again = chorus("chat", "demo", "--user", "piped", env=env, stdin=b"back\n")
    assert "When will you use it? (Now: bedtime.)" in again.stdout.decode()


def test_whole_guided_flow_from_the_terminal(env: dict[str, str]) -> None:
    lines = "/create affirmations\nconfidence at work\nhopeful\nmorning\n5\n1\n2\n1\n/library\n"
    result = chorus("chat", "demo", env=env, stdin=lines.encode())
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "… Writing your set of affirmations" in out
    assert "20-minute affirmations · self-confidence" in out  # "5" pressed 20 minutes
    assert "1. 20-minute affirmations · self-confidence" in out


def test_a_bedtime_meditation_from_the_terminal_reads_as_a_meditation(env: dict[str, str]) -> None:
    """A person going to sleep before an interview: the piece speaks of the interview in
    its own words, never pastes theirs, never wakes them, and shows no stage directions."""
    purpose = "I have a job interview tomorrow and my mind keeps racing"
    lines = f"/create meditation\n{purpose}\nbedtime\nrestless\n10\nslow\ntext only\nyes\n"
    result = chorus("chat", "demo", env=env, stdin=lines.encode())
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    start = out.index("Mira> 10-minute meditation · steady for tomorrow's interview")
    piece = out[start : out.index("With care, Mira.", start)]
    assert "as you prepare for tomorrow's interview" in piece
    assert "as you get ready for sleep" in piece
    assert "Your intention" not in piece
    assert "job interview tomorrow" not in piece
    assert "mind keeps racing" not in piece
    assert "(pause" not in piece
    for waking in ("open your eyes", "awake", "energ"):
        assert waking not in piece.lower()
    paragraphs = [p.strip() for p in piece.split("\n\n") if p.strip()]
    assert len(paragraphs) >= 6
    assert len(set(paragraphs)) == len(paragraphs)


def test_a_message_over_the_limit_is_refused_with_the_limit(env: dict[str, str]) -> None:
    long = "breathe " * 501  # 4,008 characters
    result = chorus("chat", "demo", env=env, stdin=f"{long}\n{long[:3990]}\n".encode())
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert (
        "Mira> That message is too long (4,007 characters): please keep it to 4,000 "
        "characters or fewer, or send it in parts." in out
    )
    assert out.count("too long") == 1  # 3,990 characters are read


def test_features_are_shown_and_switched(env: dict[str, str]) -> None:
    shown = chorus("features", "demo", env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    assert "• create: on — guided creation" in shown.stdout.decode()
    off = chorus("features", "demo", "create", "off", env=env)
    assert off.returncode == 0, off.stderr.decode()
    assert off.stdout.decode().startswith("Guided creation is off for Mira")
    assert "Its greeting still mentions them" in off.stdout.decode()
    assert "• create: off" in chorus("features", "demo", env=env).stdout.decode()
    talk = chorus("chat", "demo", env=env, stdin=b"/start\n/create\n/help\n").stdout.decode()
    assert "1) Ask a question" not in talk
    assert "Mira> Mira doesn't make meditations, affirmations or rituals." in talk
    assert "/library" not in talk
    for bad in (("create", "maybe"), ("sing", "on"), ("create",)):
        refused = chorus("features", "demo", *bad, env=env)
        assert refused.returncode == 2, bad
        assert refused.stderr.decode().startswith("chorus: ")
    assert chorus("features", "nobody", env=env).returncode == 2
    on = chorus("features", "demo", "create", "on", env=env)
    assert "Guided creation is on for Mira" in on.stdout.decode()
    assert (
        "2) Guided meditation" in chorus("chat", "demo", env=env, stdin=b"/start\n").stdout.decode()
    )


def test_languages_are_shown_and_set(env: dict[str, str]) -> None:
    shown = chorus("languages", "demo", env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    assert "Español (es)" in shown.stdout.decode()
    assert "Українська (uk)" in shown.stdout.decode()
    changed = chorus(
        "languages", "demo", "--offer", "en", "ES", "--default", "es",
        "--greeting", "es", "¡Hola! Soy Mira.", env=env,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr.decode()
    assert "Mira speaks English (en), Español (es)." in changed.stdout.decode()
    assert "Users whose language it doesn't speak get Español (es)." in changed.stdout.decode()
    talk = chorus("chat", "demo", env=env, stdin=b"/start\n/language\n")
    assert "¡Hola! Soy Mira." in talk.stdout.decode()  # nothing known: the default, Spanish
    for bad in (("--offer", "en", "xx"), ("--default", "de"), ("--greeting", "?", "hi")):
        refused = chorus("languages", "demo", *bad, env=env)
        assert refused.returncode == 2, bad
        assert refused.stderr.decode().startswith("chorus: ")


def test_chat_speaks_the_language_of_the_locale_unless_told_another(
    env: dict[str, str],
) -> None:
    """Someone whose shell is in German is greeted in German, with German choices, and
    warned in German; ``--language`` overrides the
    locale, and ``/language`` in the chat overrides both."""
    german = {**env, "LANG": "de_DE.UTF-8"}
    talk = chorus("chat", "demo", "--user", "hans", env=german, stdin=b"\xff\n")
    assert talk.returncode == 0, talk.stderr.decode()
    out = talk.stdout.decode()
    assert out.startswith("Mira> Hallo, ich bin Mira")  # the demo's own German greeting
    assert "        1) Eine Frage stellen\n        2) Geführte Meditation\n" in out
    assert "Warnung: Zeile 1 ist kein gültiges UTF-8" in talk.stderr.decode()
    # LANGUAGE comes before LANG; the C locale names no language
    for locale in ({"LANGUAGE": "es_ES.UTF-8:de"}, {"LC_ALL": "C.UTF-8", "LANG": "es_MX"}):
        spanish = chorus("chat", "demo", "--user", str(locale), env={**german, **locale})
        assert "2) Meditación guiada" in spanish.stdout.decode(), locale
    french = chorus("chat", "demo", "--user", "marie", "--language", "fr", env=german)
    assert "        2) Méditation guidée\n" in french.stdout.decode()
    chosen = chorus("chat", "demo", "--user", "hans", env=german, stdin=b"/language tr\n/start\n")
    assert "2) Rehberli meditasyon" in chosen.stdout.decode()
    refused = chorus("chat", "demo", "--language", "not a language", env=env)
    assert refused.returncode == 2
    assert "isn't a language code" in refused.stderr.decode()


def test_unknown_bot_exits_with_2(env: dict[str, str]) -> None:
    result = chorus("chat", "no-such-bot", env=env)
    assert result.returncode == 2
    assert "unknown bot 'no-such-bot'" in result.stderr.decode()


def test_invalid_utf8_is_reported_and_read(env: dict[str, str]) -> None:
    result = chorus("chat", "demo", env=env, stdin=b"/create meditation\nbetter \xff\xfe sleep\n")
    assert result.returncode == 0
    assert "line 2 is not valid UTF-8" in result.stderr.decode()
    assert "When will you use it?" in result.stdout.decode()


def test_bot_create_and_list(env: dict[str, str]) -> None:
    created = chorus("bot", "create", "Coach Ána", "--persona", "Kind and direct", env=env)
    assert created.returncode == 0, created.stderr.decode()
    assert created.stdout.decode().strip() == "coach-ana"
    second = chorus("bot", "create", "Coach Ána", env=env)
    assert second.stdout.decode().strip() == "coach-ana-2"
    listed = chorus("bot", "list", env=env).stdout.decode()
    assert "demo\tMira" in listed
    assert "coach-ana\tCoach Ána" in listed
    talk = chorus("chat", "coach-ana", env=env, stdin=b"/start\n")
    assert "Hi, I'm Coach Ána." in talk.stdout.decode()
    bad = chorus("bot", "create", "X", "--id", "Not Valid!", env=env)
    assert bad.returncode == 2
    assert "not a valid bot id" in bad.stderr.decode()
    taken = chorus("bot", "create", "X", "--id", "demo", env=env)
    assert taken.returncode == 2


def test_migrate(env: dict[str, str]) -> None:
    result = chorus("migrate", env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert "revision head" in result.stdout.decode()


def test_locked_database_is_a_clear_failure(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path)}
    assert chorus("migrate", env=env).returncode == 0
    holder = sqlite3.connect(tmp_path / "chorus.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = chorus("bot", "create", "Blocked", env=env)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1
    assert "locked by another program" in result.stderr.decode()
    # nothing was lost: the demo bot is still there and the new one can be made now
    assert "demo" in chorus("bot", "list", env=env).stdout.decode()
    assert chorus("bot", "create", "Blocked", env=env).returncode == 0


def test_missing_data_directory_is_created(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "new" / "nested")}
    result = chorus("chat", "demo", env=env, stdin=b"/help\n")
    assert result.returncode == 0
    assert (tmp_path / "new" / "nested" / "chorus.db").exists()


def test_bad_settings_exit_with_2(tmp_path: Path) -> None:
    result = chorus("bot", "list", env={"DATA_DIR": str(tmp_path), "LOG_FORMAT": "xml"})
    assert result.returncode == 2
    assert "LOG_FORMAT" in result.stderr.decode().upper()


def test_serve_answers_and_shuts_down_gracefully(tmp_path: Path) -> None:
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with subprocess.Popen(
        [sys.executable, "-m", "core", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "DATA_DIR": str(tmp_path), "LOG_FORMAT": "json"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as server:
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    url = f"http://127.0.0.1:{port}/ready"
                    with urllib.request.urlopen(url, timeout=2) as response:
                        assert response.status == 200
                        break
                except OSError:
                    assert time.monotonic() < deadline, "the server did not become ready"
                    time.sleep(0.2)
            server.send_signal(signal.SIGTERM)
            _, logs = server.communicate(timeout=20)
        finally:
            server.kill()
    assert server.returncode == 0
    assert '"logger": "chorus.server"' in logs.decode()
    assert '"message": "database ready at' in logs.decode()


def test_widget_prints_the_embed_snippet(env: dict[str, str]) -> None:
    env = {**env, "PUBLIC_BASE_URL": "https://chorus.example/"}
    result = chorus("widget", "demo", "--port", "9000", env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == (
        '<script src="https://chorus.example/widget.js" data-bot="demo" async></script>'
    )
    said = result.stderr.decode()
    assert "PUBLIC_BASE_URL is set" in said
    assert "--host and --port are not used" in said
    assert chorus("widget", "nobody", env=env).returncode == 2


def test_widget_without_public_base_url_loads_from_where_serve_listens(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data")}
    result = chorus("widget", "demo", "--host", "127.0.0.1", "--port", "9123", env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == (
        '<script src="http://127.0.0.1:9123/widget.js" data-bot="demo" async></script>'
    )
    said = result.stderr.decode()
    assert "PUBLIC_BASE_URL is not set" in said
    assert "`chorus serve --host 127.0.0.1 --port 9123`, at http://127.0.0.1:9123" in said
    assert "chorus origins demo add https://your.site" in said  # how to allow a website
    # listening everywhere, it is reached as localhost; --base-url says where it really is
    everywhere = chorus("widget", "demo", "--port", "9000", env=env).stdout.decode()
    assert 'src="http://localhost:9000/widget.js"' in everywhere
    proxied = chorus("widget", "demo", "--base-url", "https://chat.example.com/chorus/", env=env)
    assert 'src="https://chat.example.com/chorus/widget.js"' in proxied.stdout.decode()
    assert "PUBLIC_BASE_URL" not in proxied.stderr.decode()
    for bad in (("--base-url", "ftp://chat.example.com"), ("--port", "0"), ("--host", "a b")):
        refused = chorus("widget", "demo", *bad, env=env)
        assert refused.returncode == 2, bad
        assert refused.stdout == b""


def test_origins_are_listed_allowed_and_disallowed(env: dict[str, str]) -> None:
    empty = chorus("origins", "demo", env=env)
    assert empty.returncode == 0, empty.stderr.decode()
    assert empty.stdout == b""
    assert "chorus origins demo add https://your.site" in empty.stderr.decode()
    added = chorus("origins", "demo", "add", "https://Shop.Example/checkout?x=1", env=env)
    assert added.returncode == 0, added.stderr.decode()
    assert added.stdout.decode() == "https://shop.example\n"
    widget = chorus("widget", "demo", env=env).stderr.decode()
    assert "and on https://shop.example" in widget
    removed = chorus("origins", "demo", "remove", "https://shop.example/", env=env)
    assert removed.returncode == 0, removed.stderr.decode()
    assert removed.stdout == b""
    for bad, said in (
        (("demo", "add", "shop.example"), "isn't a website address"),
        (("demo", "add"), "which website?"),
        (("nobody", "add", "https://shop.example"), "unknown bot 'nobody'"),
    ):
        refused = chorus("origins", *bad, env=env)
        assert refused.returncode == 2, bad
        assert said in refused.stderr.decode()


def test_someone_new_is_greeted_with_choices_before_typing(env: dict[str, str]) -> None:
    first = chorus("chat", "demo", "--user", "new", env=env, stdin=b"2\n")
    out = first.stdout.decode()
    assert first.returncode == 0, first.stderr.decode()
    # the greeting and its numbered choices come first, so "2" presses one
    assert out.index("Hello, I'm Mira") < out.index("you> 2")
    assert "let's make your guided meditation" in out
    assert "DEBUG" not in first.stderr.decode()
    # someone the bot knows is not greeted again
    again = chorus("chat", "demo", "--user", "new", env=env, stdin=b"back\n")
    assert "Hello, I'm Mira" not in again.stdout.decode()
