"""Running the ``chorus`` command line as a real subprocess in tests."""

from __future__ import annotations

import os
import subprocess
import sys

#: a locale that names no language, so ``chorus chat`` speaks English whatever the
#: machine running the tests is set to (a test that wants one sets it in ``env``)
NO_LANGUAGE = {"LANGUAGE": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8"}


def chorus(
    *args: str, stdin: bytes = b"", env: dict[str, str]
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **NO_LANGUAGE, **env},
        timeout=180,
        check=False,
    )
