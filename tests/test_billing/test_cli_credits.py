"""``chorus credits BOT USER`` as a real subprocess."""

from __future__ import annotations

from pathlib import Path

from tests.cli import chorus


def test_credits_shows_and_grants(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data"), "SPEECH_ENABLED": "false"}
    talked = chorus("chat", "demo", "--user", "ana", stdin=b"hello\n", env=env)
    assert talked.returncode == 0, talked.stderr.decode()

    shown = chorus("credits", "demo", "terminal:ana", env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    assert "You have 0 credits." in shown.stdout.decode()

    granted = chorus("credits", "demo", "terminal:ana", "--grant", "5", env=env)
    out = granted.stdout.decode()
    assert "Gave 5 credits to terminal:ana; they have 5 now." in out
    assert "You have 5 credits." in out
    assert "gift from the creator" in out

    unknown = chorus("credits", "demo", "terminal:nobody", env=env)
    assert unknown.returncode == 2
    assert "hasn't talked to demo" in unknown.stderr.decode()
    assert chorus("credits", "no-such-bot", "terminal:ana", env=env).returncode == 2
