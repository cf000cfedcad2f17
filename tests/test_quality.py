"""The code base stays lint-clean, type-checked and layered (ruff, mypy and import-linter,
as configured in pyproject.toml)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_ruff_finds_nothing() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("core", "bots", "billing", "channels", "knowledge", "webwidget")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_import_layers_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contracts_reject_an_import_from_a_layer_above(tmp_path: Path) -> None:
    """The conversation importing a channel, in a copy of the tree, breaks the build."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    engine = tmp_path / "core" / "conversation" / "engine.py"
    engine.write_text(engine.read_text() + "\nimport channels.telegram  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "core.conversation.engine -> channels.telegram" in result.stdout


def layered_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (layers,) = (
        contract["layers"]
        for contract in config["tool"]["importlinter"]["contracts"]
        if contract["type"] == "layers"
    )
    return [part.strip() for layer in layers for part in re.split(r"[:|]", layer)]


def project_modules() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if len(parts) > 1:
                found.append(".".join(parts))
    return sorted(found)


def test_every_module_belongs_to_a_layer() -> None:
    layered = layered_modules()
    homeless = [
        module
        for module in project_modules()
        if not any(module == owner or module.startswith(owner + ".") for owner in layered)
    ]
    assert not homeless, f"modules in no layer of pyproject.toml's contract: {homeless}"


def test_core_keeps_a_short_top_level() -> None:
    """core/ holds the foundation and the composition root; the rest is in subpackages."""
    top = sorted(path.name for path in (ROOT / "core").glob("*.py"))
    assert len(top) <= 15, top
