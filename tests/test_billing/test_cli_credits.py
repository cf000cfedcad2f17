"""``chorus credits BOT USER`` as a real subprocess: the operator's view of a user."""

from __future__ import annotations

from pathlib import Path

from tests.cli import chorus


def test_credits_shows_and_grants(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path / "data"), "SPEECH_ENABLED": "false"}
    talked = chorus("chat", "demo", "--user", "ana", stdin=b"hello\n", env=env)
    assert talked.returncode == 0, talked.stderr.decode()

    shown = chorus("credits", "demo", "terminal:ana", env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    out = shown.stdout.decode()
    # about the user, to the operator: never "You have ..."
    assert out.splitlines()[0] == "terminal:ana has 0 credits with demo (plan: none)"
    assert "You " not in out
    assert "no ledger entries yet" in out

    granted = chorus("credits", "demo", "terminal:ana", "--grant", "5", env=env)
    assert granted.returncode == 0, granted.stderr.decode()
    lines = granted.stdout.decode().splitlines()
    assert lines[0] == "gave terminal:ana 5 credits"
    assert lines[1] == "terminal:ana has 5 credits with demo (plan: none)"
    assert lines[2] == "latest 1 ledger entry:"
    assert lines[3].endswith("  +5  = 5  creator_grant  (creator:demo)")

    unknown = chorus("credits", "demo", "terminal:nobody", env=env)
    assert unknown.returncode == 2
    assert "hasn't talked to demo" in unknown.stderr.decode()
    assert chorus("credits", "no-such-bot", "terminal:ana", env=env).returncode == 2
    for bad in ("0", "-3", "100001"):
        refused = chorus("credits", "demo", "terminal:ana", "--grant", bad, env=env)
        assert refused.returncode == 2, bad
        assert "--grant takes 1 to 100,000 credits" in refused.stderr.decode()
    after = chorus("credits", "demo", "terminal:ana", env=env).stdout.decode()
    assert after.startswith("terminal:ana has 5 credits")
