"""Reading bytes or a file into a document: size checks, type detection, dispatch.

Each format's loader is imported when a document of that format first comes (in the
worker thread that reads it): their parsers (python-docx, pypdfium2, BeautifulSoup,
markdown-it, and the OCR engine for scans and images) take a good part of a second to
import together.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from knowledge.documents import Limits, LoadedDocument, Progress, ProgressCallback, no_progress
from knowledge.errors import DocumentTooLarge, UnreadableDocument
from knowledge.loaders.detect import DocumentKind, detect
from knowledge.loaders.sizes import size_text
from knowledge.loaders.text import load_text


def load_bytes(
    data: bytes,
    name: str,
    *,
    mime_type: str | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen, so one shared default is safe
    progress: ProgressCallback = no_progress,
) -> LoadedDocument:
    """Read a document from its bytes; ``name`` is its file name or URL.

    ``mime_type`` (which may carry a ``charset`` parameter) is only a hint: the content
    decides. Raises ``DocumentTooLarge``, ``UnsupportedDocument`` or
    ``UnreadableDocument`` with a message fit for the creator.
    """
    if len(data) > limits.max_bytes:
        raise DocumentTooLarge(
            name, f"its size ({size_text(len(data))})", size_text(limits.max_bytes)
        )
    detected = detect(data, name, mime_type)
    if detected.kind is DocumentKind.PDF:
        from knowledge.loaders.pdf import load_pdf

        return load_pdf(data, name, limits, progress)
    if detected.kind.is_image:
        from knowledge.loaders.image import load_image

        return load_image(data, name, detected.kind.value, limits, progress)
    progress(Progress("reading", 0, 1, f"Reading {name}…"))
    if detected.kind is DocumentKind.DOCX:
        from knowledge.loaders.docx import load_docx

        document = load_docx(data, name, limits)
    elif detected.kind is DocumentKind.HTML:
        from knowledge.loaders.html import load_html

        document = load_html(data, name, detected.charset)
    elif detected.kind is DocumentKind.MARKDOWN:
        from knowledge.loaders.markdown import load_markdown

        document = load_markdown(detected.text or "", name)
    else:
        document = load_text(detected.text or "", name)
    progress(Progress("reading", 1, 1, f"Read {name}"))
    return document


async def load_path(
    path: Path | str,
    *,
    limits: Limits = Limits(),  # noqa: B008 - frozen, so one shared default is safe
    progress: ProgressCallback = no_progress,
) -> LoadedDocument:
    """Read a document from a file, off the event loop.

    The size is checked before anything is read; ``progress`` is called on the event
    loop's thread, never from the worker.
    """
    file = Path(path)
    data = await asyncio.to_thread(_read_file, file, limits)
    return await asyncio.to_thread(
        load_bytes, data, file.name, limits=limits, progress=on_loop(progress)
    )


def _read_file(file: Path, limits: Limits) -> bytes:
    try:
        size = file.stat().st_size
        if size > limits.max_bytes:
            raise DocumentTooLarge(
                file.name, f"its size ({size_text(size)})", size_text(limits.max_bytes)
            )
        with file.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)  # the file may have grown since stat()
    except IsADirectoryError as exc:
        raise UnreadableDocument(file.name, "it is a folder, not a file") from exc
    except FileNotFoundError as exc:
        raise UnreadableDocument(file.name, "there is no such file") from exc
    except PermissionError as exc:
        raise UnreadableDocument(file.name, "the file cannot be read (permission denied)") from exc
    if len(data) > limits.max_bytes:
        raise DocumentTooLarge(file.name, "its size", size_text(limits.max_bytes))
    return data


def on_loop(progress: ProgressCallback) -> ProgressCallback:
    """A progress callback, safe to call from a worker thread, that runs on this loop."""
    if progress is no_progress:
        return progress
    loop = asyncio.get_running_loop()

    def relay(step: Progress) -> None:
        """Hand the step to the loop; the worker does not wait for it."""
        loop.call_soon_threadsafe(progress, step)

    return relay
