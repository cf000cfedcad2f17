"""Sizes in words, for the messages of size limits ("27 KB", "20.0 MB")."""

from __future__ import annotations

_KB = 1024
_MB = 1024 * 1024


def size_text(size: int) -> str:
    """A byte count for people: "900 bytes", "27 KB", "20.0 MB"."""
    if size < _KB:
        return f"{size} bytes"
    if size < _MB:
        return f"{size / _KB:.0f} KB"
    return f"{size / _MB:.1f} MB"
