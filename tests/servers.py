"""Real servers for tests: the machine's Redis, and Chroma or Redis servers of a test's
own, started on free ports with their data in the test's directory.

A server that cannot start fails the test: these tests never skip."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis

#: the machine's Redis (CI starts it); each test uses its own key prefix
REDIS_URL = "redis://127.0.0.1:6379/0"
CHROMA = Path(sys.executable).with_name("chroma")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """A server process started by a test, its output in a log file."""

    def __init__(
        self,
        command: list[str],
        log: Path,
        ready: Callable[[], bool],
        env: dict[str, str] | None = None,
    ) -> None:
        self._command = command
        self._log = log
        self._ready = ready
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, within: float = 30.0) -> None:
        with self._log.open("ab") as out:
            self.process = subprocess.Popen(
                self._command, stdout=out, stderr=subprocess.STDOUT, env=self._env
            )
        deadline = time.monotonic() + within
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{self._command[0]} did not start:\n{self._log.read_text()[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-conversation."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def chroma_server(directory: Path) -> tuple[Server, str]:
    """chromadb's own ``chroma run`` (not started yet) and its URL."""
    if not CHROMA.exists():
        pytest.fail(f"chromadb's server command is missing: {CHROMA}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    command = [str(CHROMA), "run", "--path", str(directory / "chroma-server")]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    return Server(command, directory / "chroma.log", ready), url


def redis_server(directory: Path) -> tuple[Server, str]:
    """A Redis server of one test (``redis-server``, not started yet), which the test may
    kill and start again on the same port, and its URL."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"

    def ready() -> bool:
        try:
            return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(directory)]
    return Server(command, directory / "redis.log", ready), url
