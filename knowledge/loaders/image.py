"""Image loader: a photo or scan of a document (PNG, JPEG, WebP, TIFF, BMP) read by OCR.

Pillow reads the image's size from its header before decoding any pixel, so an image
whose dimensions are over the limit (a decompression bomb: a few kilobytes that would
decode to gigabytes) is refused before it costs memory. A multi-page TIFF is a
document of pages, each read in turn, up to the OCR page limit.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from knowledge.documents import Block, Limits, LoadedDocument, ProgressCallback
from knowledge.errors import DocumentTooLarge, UnreadableDocument
from knowledge.loaders.scans import ocr_progress, read_page
from knowledge.loaders.textblocks import fallback_title, heading_like


def load_image(
    data: bytes, name: str, mime_type: str, limits: Limits, progress: ProgressCallback
) -> LoadedDocument:
    """The text OCR reads on an image; raises if it is broken, too big or has no text."""
    if limits.max_ocr_pages < 1:
        raise UnreadableDocument(name, "it is an image, and reading images (OCR) is turned off")
    image = _open(data, name, limits)
    with image:
        pages = getattr(image, "n_frames", 1)
        if pages > limits.max_ocr_pages:
            raise DocumentTooLarge(
                name, f"its page count ({pages})", f"{limits.max_ocr_pages} pages read with OCR"
            )
        blocks: list[Block] = []
        for index in range(pages):
            ocr_progress(progress, index, pages, index + 1)
            blocks += read_page(_frame(image, index, name), name, index + 1 if pages > 1 else None)
        ocr_progress(progress, pages, pages, pages)
    if not blocks:
        raise UnreadableDocument(name, "it has no readable text: OCR found no words in the image")
    title = heading_like(blocks[0].text) if len(blocks[0].text) <= 80 else None
    return LoadedDocument(
        title=title or fallback_title(name),
        source=name,
        mime_type=mime_type,
        blocks=tuple(blocks),
        pages=pages if pages > 1 else None,
    )


def _open(data: bytes, name: str, limits: Limits) -> Image.Image:
    """The image, its header read and its size checked; no pixel decoded yet."""
    try:
        image = Image.open(io.BytesIO(data))
    # Pillow's own check: an error far over its limit, a warning (an error where warnings
    # are turned into errors) just over it; both are far over ours
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DocumentTooLarge(
            name, "its image dimensions", f"{limits.max_image_pixels:,} pixels"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UnreadableDocument(name, "the image is damaged and cannot be opened") from exc
    width, height = image.size
    if width * height > limits.max_image_pixels:
        image.close()
        raise DocumentTooLarge(
            name,
            f"its image dimensions ({width}×{height} pixels)",
            f"{limits.max_image_pixels:,} pixels",
        )
    if width < 8 or height < 8:
        image.close()
        raise UnreadableDocument(name, f"the image is too small to hold text ({width}×{height})")
    return image


def _frame(image: Image.Image, index: int, name: str) -> Image.Image:
    """Page ``index`` of the image, decoded, upright (EXIF rotation applied), in RGB."""
    try:
        image.seek(index)
        frame = ImageOps.exif_transpose(image)
        return frame.convert("RGB")
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UnreadableDocument(
            name, f"the image is damaged and cannot be decoded ({exc})"
        ) from exc
