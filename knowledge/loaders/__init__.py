"""Document loaders: bytes, files and URLs read into a ``LoadedDocument`` of blocks.

``load_bytes`` is the one function that parses; it is synchronous and CPU-bound, so
async callers run it in a worker thread (``load_path`` and ``load_url`` do). What a
document is comes from its content first (see ``detect``), its name or MIME type second.
"""

from __future__ import annotations

from knowledge.loaders.detect import DocumentKind
from knowledge.loaders.load import load_bytes, load_path
from knowledge.loaders.url import load_url

__all__ = ["DocumentKind", "load_bytes", "load_path", "load_url"]
