"""What a file really is, judged by its content first and its name or MIME type second.

File names lie (a PDF saved as ``.txt``, an old ``.doc`` renamed ``.docx``, an HTML
error page saved as ``.pdf``), so magic numbers decide whenever there are any: PDF,
DOCX (a ZIP holding ``word/document.xml``), images of text (PNG, JPEG, WebP, TIFF,
BMP: read with OCR), and known binary formats that Chorus does not read. Only text is
then told apart by name or MIME type: HTML, Markdown or plain.
"""

from __future__ import annotations

import enum
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from knowledge.errors import UnreadableDocument, UnsupportedDocument
from knowledge.loaders.text import decode_text


class DocumentKind(enum.StrEnum):
    """A format Chorus reads; the value is its MIME type."""

    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    HTML = "text/html"
    MARKDOWN = "text/markdown"
    TEXT = "text/plain"
    PNG = "image/png"
    JPEG = "image/jpeg"
    WEBP = "image/webp"
    TIFF = "image/tiff"
    BMP = "image/bmp"

    @property
    def is_image(self) -> bool:
        """Whether this is a picture, whose text only OCR can read."""
        return self.value.startswith("image/")


@dataclass(frozen=True, slots=True)
class Detected:
    """The kind of a document, and its decoded text when it is a text format."""

    kind: DocumentKind
    text: str | None = None
    charset: str | None = None


_IMAGES: tuple[tuple[bytes, DocumentKind], ...] = (
    (b"\x89PNG\r\n\x1a\n", DocumentKind.PNG),
    (b"\xff\xd8\xff", DocumentKind.JPEG),
    (b"II*\x00", DocumentKind.TIFF),
    (b"MM\x00*", DocumentKind.TIFF),
)
#: the sizes of a BMP's info header: "BM" alone would also start many a text
_BMP_HEADERS = (12, 40, 52, 56, 64, 108, 124)
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Microsoft Office (.doc, .xls, .ppt)"),
    (b"{\\rtf", "RTF"),
    (b"\x1f\x8b", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!", "RAR archive"),
    (b"\x7fELF", "executable"),
    (b"OggS", "Ogg audio"),
    (b"fLaC", "FLAC audio"),
    (b"\x1a\x45\xdf\xa3", "video"),
    (b"SQLite format 3\x00", "SQLite database"),
)
_ZIP_KINDS = (
    ("xl/workbook.xml", "Excel spreadsheet (.xlsx)"),
    ("ppt/presentation.xml", "PowerPoint presentation (.pptx)"),
    ("META-INF/container.xml", "EPUB e-book"),
    ("content.xml", "OpenDocument"),
)
_EXTENSIONS = {
    ".pdf": DocumentKind.PDF,
    ".docx": DocumentKind.DOCX,
    ".html": DocumentKind.HTML,
    ".htm": DocumentKind.HTML,
    ".xhtml": DocumentKind.HTML,
    ".md": DocumentKind.MARKDOWN,
    ".markdown": DocumentKind.MARKDOWN,
    ".mdown": DocumentKind.MARKDOWN,
    ".txt": DocumentKind.TEXT,
    ".text": DocumentKind.TEXT,
}
_MIME_TYPES = {
    **{kind.value: kind for kind in DocumentKind},
    "application/xhtml+xml": DocumentKind.HTML,
    "text/x-markdown": DocumentKind.MARKDOWN,
}
_HTML_START = re.compile(
    rb"^(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html)[\s>]", re.S | re.I
)
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)", re.I)


def detect(data: bytes, name: str, mime_type: str | None = None) -> Detected:
    """The kind of ``data``; raises if it is empty, binary or a format Chorus does not read."""
    if not data.strip():
        raise UnreadableDocument(name, "the file is empty")
    claimed = _claimed_kind(name, mime_type)
    charset = _charset(mime_type)
    if _is_pdf(data):
        return Detected(DocumentKind.PDF)
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return Detected(_zip_kind(data, name))
    image = _image_kind(data)
    if image is not None:
        return Detected(image)
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise UnsupportedDocument(name, what)
    text = decode_text(data, charset)
    if charset and _is_utf8(data):
        charset = "utf-8"  # a declared charset loses to content that is valid UTF-8
    if text is None:
        if claimed in (DocumentKind.PDF, DocumentKind.DOCX):
            ext = "PDF" if claimed is DocumentKind.PDF else "DOCX"
            raise UnreadableDocument(
                name, f"it is named as a {ext} file but its content is not one"
            )
        raise UnsupportedDocument(name, "unrecognised binary")
    if _HTML_START.match(_ascii_head(data)):
        return Detected(DocumentKind.HTML, text, charset)
    if claimed in (DocumentKind.HTML, DocumentKind.MARKDOWN):
        return Detected(claimed, text, charset)
    return Detected(DocumentKind.TEXT, text, charset)


def _is_pdf(data: bytes) -> bool:
    """Whether the data is a PDF: its header first, or in the first kilobyte of a file
    that also ends like one (a text that only mentions "%PDF-" is not a PDF).
    """
    if data.lstrip()[:5] == b"%PDF-":
        return True
    return b"%PDF-" in data[:1024] and b"%%EOF" in data[-2048:]


def _image_kind(data: bytes) -> DocumentKind | None:
    for magic, kind in _IMAGES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return DocumentKind.WEBP
    if data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _BMP_HEADERS:
        return DocumentKind.BMP
    return None


def _claimed_kind(name: str, mime_type: str | None) -> DocumentKind | None:
    if mime_type:
        kind = _MIME_TYPES.get(mime_type.split(";", 1)[0].strip().lower())
        if kind is not None:
            return kind
    path = name.split("?", 1)[0].split("#", 1)[0] if "://" in name else name
    return _EXTENSIONS.get(PurePosixPath(path.replace("\\", "/")).suffix.lower())


def _charset(mime_type: str | None) -> str | None:
    match = _CHARSET.search(mime_type or "")
    return match.group(1) if match else None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _ascii_head(data: bytes) -> bytes:
    """The first kilobyte as ASCII-ish bytes, so markers match in UTF-16 files too."""
    head = data[:2048]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        head = head.decode("utf-16", errors="ignore").encode("ascii", errors="ignore")
    return head.removeprefix(b"\xef\xbb\xbf")[:1024]


def _zip_kind(data: bytes, name: str) -> DocumentKind:
    """DOCX if the ZIP holds a Word document; otherwise say what it holds."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            content_types = _small_member(archive, "[Content_Types].xml")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UnreadableDocument(
            name, f"it is a damaged ZIP or DOCX file that cannot be opened ({exc})"
        ) from exc
    if "word/document.xml" in names or b"wordprocessingml.document.main" in content_types:
        return DocumentKind.DOCX
    for member, what in _ZIP_KINDS:
        if member in names:
            raise UnsupportedDocument(name, what)
    raise UnsupportedDocument(name, "ZIP archive")


def _small_member(archive: zipfile.ZipFile, member: str) -> bytes:
    """The start of a small member, read with a cap: never trust a ZIP's sizes."""
    try:
        with archive.open(member) as handle:
            return handle.read(65536)
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
        return b""
