"""Running the ``chorus`` command line as a real subprocess in tests."""

from __future__ import annotations

import os
import subprocess
import sys


def chorus(
    *args: str, stdin: bytes = b"", env: dict[str, str]
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **env},
        timeout=180,
        check=False,
    )
