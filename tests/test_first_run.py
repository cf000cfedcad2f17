"""The product as a newcomer runs it: a fresh copy of the working tree, the README's
commands from its root, default settings (no ``DATA_DIR``: everything under ``./data``),
real processes, a real browser. Nothing here builds an absolute data directory.

One server (``chorus serve``) runs for the whole module, as it would on a newcomer's
machine; the terminal, the REST API and a website visitor all talk to it (and the CLI
shares its ``./data``) in the order a newcomer would try them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright, expect

from core.settings import Settings
from tests.browser import ARGS, CHROMIUM
from tests.servers import free_port
from tests.test_webwidget.conftest import DESKTOP
from tests.test_webwidget.widget_page import Widget

REPOSITORY = Path(__file__).resolve().parents[1]
CHORUS = Path(sys.executable).with_name("chorus")
QUESTION = "What is box breathing?"
ANSWER = re.compile(r"four", re.IGNORECASE)  # box breathing's four equal sides
SPOKEN = "What can help me sleep better at night?"
GREETING = "Hello, I'm Mira"


def _fresh_copy(root: Path) -> Path:
    """The repository's files as a clone has them (tracked and new, not ignored): no
    ``data``, no virtualenv, nothing a previous run left behind."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPOSITORY,
        capture_output=True,
        check=True,
    )
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPOSITORY / name
        if source.is_file():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return root


def _newcomer_env(root: Path) -> dict[str, str]:
    """The environment of a shell with none of Chorus's settings set, running the copy's
    code (the virtualenv's ``chorus`` with the copy first on the path)."""
    settings = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in settings}
    env["PYTHONPATH"] = str(root)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Newcomer:
    """A fresh copy of the project, its running server and how to run its CLI."""

    root: Path
    env: dict[str, str]
    port: int
    server: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def media(self) -> Path:
        return self.root / "data" / "media"

    def chorus(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """``chorus ARGS`` run from the copy's root, as the README shows."""
        return subprocess.run(
            [str(CHORUS), *args],
            input=stdin,
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newcomer]:
    root = tmp_path_factory.mktemp("newcomer") / "chorus"
    _fresh_copy(root)
    env = _newcomer_env(root)
    port = free_port()
    log = root.parent / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(CHORUS), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    here = Newcomer(root, env, port, server, log)
    try:
        _wait_ready(here)
        yield here
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_ready(here: Newcomer, within: float = 120.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if here.server.poll() is not None:
            pytest.fail(f"chorus serve exited:\n{here.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{here.url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"chorus serve was not ready in {within} s:\n{here.log.read_text()[-3000:]}")


def test_the_server_keeps_its_data_in_the_relative_data_folder(newcomer: Newcomer) -> None:
    data = newcomer.root / "data"
    assert (data / "chorus.db").is_file()
    assert (data / "chroma").is_dir()
    # nothing was created outside the folder the newcomer started in
    assert not (newcomer.root.parent / "data").exists()
    # the address to open is printed once the server can serve it
    printed = newcomer.log.read_text()
    assert f"http://127.0.0.1:{newcomer.port}/" in printed
    assert httpx.get(f"{newcomer.url}/", timeout=10).status_code == 200


def test_a_piped_terminal_chat_creates_a_meditation_with_audio(newcomer: Newcomer) -> None:
    # typed as a newcomer would, pressing the buttons by their labels
    lines = [
        "/start",
        "Guided meditation",
        "Less stress",
        "Morning",
        "Anxious",
        "3 minutes",
        "Moderate",
        "Audio and text",
        "Create it",
        "/library",
    ]
    result = newcomer.chorus("chat", "demo", "--user", "newcomer", stdin="\n".join(lines) + "\n")
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Mira> " in out
    assert GREETING in out
    assert "Shall I create it?" in out
    audio = re.search(r"\[audio: (\S+\.ogg), (\d+) s\]", out)
    assert audio, out
    # a file the newcomer can open, of a whole 3-minute piece, in the data folder
    recording = newcomer.root / audio.group(1)
    assert recording.is_relative_to(newcomer.media)
    assert recording.stat().st_size > 10_000
    assert int(audio.group(2)) >= 170
    library = out.rsplit("saved in your /library", 1)[-1]
    assert "3-minute meditation" in library, out


def test_rest_register_bot_upload_and_ask(newcomer: Newcomer) -> None:
    with httpx.Client(base_url=f"{newcomer.url}/api/v1", timeout=60) as api:
        _register_upload_and_ask(newcomer, api)


def _register_upload_and_ask(newcomer: Newcomer, api: httpx.Client) -> None:
    tokens = api.post(
        "/auth/register",
        json={"email": "ana@example.com", "password": "correct horse battery", "name": "Ana"},
    )
    assert tokens.status_code == 201, tokens.text
    auth = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    bot = api.post("/bots", json={"name": "Tea shop"}, headers=auth)
    assert bot.status_code == 201, bot.text
    bot_id = bot.json()["id"]

    notes = (
        "# Oolong tea\n\n## Where it comes from\n\nOolong is a partly oxidised tea from "
        "Fujian and Taiwan.\n\n## Water temperature\n\nThe water for oolong should be hot, "
        "at 90 degrees Celsius, not boiling; steep it for three minutes.\n"
    )
    upload = api.post(
        f"/bots/{bot_id}/documents",
        files={"file": ("oolong.md", notes.encode(), "text/markdown")},
        headers=auth,
    )
    assert upload.status_code == 202, upload.text
    job = upload.json()
    deadline = time.monotonic() + 120
    while job["status"] not in {"done", "failed"} and time.monotonic() < deadline:
        time.sleep(0.5)
        job = api.get(f"/bots/{bot_id}/document-jobs/{job['id']}", headers=auth).json()
    assert job["status"] == "done", job

    # the CLI, on the same ./data, answers from what the API taught the bot
    asked = newcomer.chorus("ask", bot_id, "How hot should the water be for oolong?")
    assert asked.returncode == 0, asked.stderr
    assert "90 degrees" in asked.stdout
    assert "Oolong tea" in asked.stdout


def _speech(path: Path, text: str) -> Path:
    """``text`` spoken by the project's own voice, as a WAV file Chromium plays into its
    synthetic microphone."""
    from core.voice.espeak import espeak

    samples = espeak().synthesize(text, voice="en-us", rate=150, pitch=50)
    # a moment of silence around the words, as a person leaves when they press record
    quiet = bytes(2 * 22050 // 2)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(22050)
        out.writeframes(quiet + samples.tobytes() + quiet)
    return path


@pytest.fixture
async def browser(newcomer: Newcomer) -> AsyncIterator[Browser]:
    spoken = _speech(newcomer.root.parent / "question.wav", SPOKEN)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            # played once from the start of the capture, not looped into the next take
            args=[*ARGS, f"--use-file-for-fake-audio-capture={spoken}%noloop"],
        )
        yield browser
        await browser.close()


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


async def test_a_website_visitor_talks_speaks_reloads_and_forgets(
    newcomer: Newcomer, browser: Browser
) -> None:
    context = await browser.new_context(viewport=DESKTOP, base_url=f"{newcomer.url}/")
    await context.grant_permissions(["microphone"])
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    media_before = _files(newcomer.media)

    widget = Widget(page)
    await widget.load()
    await widget.open()
    # greeted with its buttons before typing anything
    await expect(widget.replies(GREETING)).to_have_count(1)
    await expect(widget.replies(GREETING).locator(".btns button").first).to_be_visible()

    await widget.say("/voice on")
    await expect(widget.after("/voice on").first).to_be_visible()
    await widget.say(QUESTION)
    answer = widget.after(QUESTION).filter(has_text=ANSWER)
    await expect(answer).to_have_count(1)
    await expect(answer.locator("ol.src li").first).to_contain_text("Breathing and calm")
    await expect(widget.after(QUESTION).locator("audio").first).to_be_attached()

    # a question spoken into the microphone: heard, then answered from the notes
    mic = page.locator("chorus-widget .mic")
    await mic.click()
    await expect(mic).to_have_attribute("aria-pressed", "true")
    # the whole question (3.9 s with its quiet edges) and a margin for the recorder to start
    await page.wait_for_timeout(6000)
    await mic.click()
    note = widget.mine().filter(has_text="Voice note")
    await expect(note).to_have_count(1)
    heard = widget.after("Voice note").filter(has_text=re.compile("sleep", re.IGNORECASE))
    await expect(heard.first).to_be_visible(timeout=90_000)
    await expect(widget.after("Voice note").locator("ol.src li").first).to_be_visible()
    assert _files(newcomer.media) - media_before, "no voice reply or voice note was kept"

    await page.reload()
    await expect(widget.state).to_have_text("Online")
    await widget.open()
    await expect(widget.mine(QUESTION)).to_have_count(1)
    await expect(widget.replies(GREETING)).to_have_count(1)
    await expect(note).to_have_count(1)

    await widget.say("/forget")
    await expect(widget.after("/forget").first).to_be_visible()
    await widget.say("Yes")
    # the transcript is cleared, and what is said about it is not kept either
    await expect(widget.mine(QUESTION)).to_have_count(0)
    await expect(widget.replies().first).to_be_visible()
    deadline = time.monotonic() + 30
    while _files(newcomer.media) != media_before and time.monotonic() < deadline:
        await page.wait_for_timeout(200)
    assert _files(newcomer.media) == media_before
    await context.close()
    assert errors == []
