"""Documents for the loader tests: the shared real files, and small ones built on the spot.

The PDFs are written by hand (a few objects, Helvetica, a correct cross-reference
table) so a test controls exactly where each line and paragraph sits on the page.
"""

from __future__ import annotations

import io
import struct
import textwrap
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import docx
from docx.enum.section import WD_SECTION
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfWriter

DOCS = Path(__file__).resolve().parents[3] / "shared" / "data" / "docs"


def shared(name: str) -> bytes:
    """A file of the shared test documents; missing files fail the test, never skip it."""
    path = DOCS / name
    assert path.is_file(), f"shared test document missing: {path}"
    return path.read_bytes()


def shared_names(pattern: str) -> list[str]:
    """The names of the shared documents matching a glob pattern (at least one)."""
    names = sorted(path.name for path in DOCS.glob(pattern))
    assert names, f"no shared test documents match {pattern} in {DOCS}"
    return names


_PUA_CMAP = b"""/CIDInit /ProcSet findresource begin 12 dict begin begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Junk-UCS def /CMapType 2 def
1 begincodespacerange <00> <FF> endcodespacerange
1 beginbfrange <20> <7E> <E020> endbfrange
endcmap CMapName currentdict /CMap defineresource pop end end"""


def text_pdf(
    pages: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    heading: str | None = None,
    junk_unicode: bool = False,
    hyphenate: bool = False,
    turned: bool = False,
) -> bytes:
    """A PDF whose pages hold the given paragraphs, wrapped at 80 characters.

    ``heading`` is set large at the top of the first page; ``junk_unicode`` gives the
    font a ToUnicode map into the private use area, like a broken text layer;
    ``hyphenate`` splits the first word of each wrapped line with a hyphen, as TeX does;
    ``turned`` draws the text a quarter turn round on a /Rotate 90 page (upright on screen).
    """
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the page objects are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding"
        + (b" /ToUnicode 4 0 R >>" if junk_unicode else b" >>"),
        _stream(_PUA_CMAP),
        b"<< /Producer (chorus tests)"
        + (b" /Title (" + _escape(title) + b")" if title is not None else b"")
        + b" >>",
    ]
    kids = []
    for number, paragraphs in enumerate(pages):
        content = _page_content(paragraphs, heading if number == 0 else None, hyphenate, turned)
        objects.append(_stream(content))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
            + (b" /Rotate 90" if turned else b"")
            + b" /Resources << /Font << /F1 3"
            b" 0 R >> >> /Contents " + str(len(objects)).encode() + b" 0 R >>"
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    return _assemble(objects)


def _page_content(
    paragraphs: Sequence[str], heading: str | None, hyphenate: bool, turned: bool
) -> bytes:
    lines: list[bytes] = [b"BT"]
    y = 740.0
    if heading:
        lines.append(b"/F1 20 Tf 1 0 0 1 72 %.1f Tm (%s) Tj" % (y, _escape(heading)))
        y -= 36
    lines.append(b"/F1 11 Tf")
    for paragraph in paragraphs:
        wrapped = textwrap.wrap(paragraph, 70) or [""]
        for line in _hyphenated(wrapped) if hyphenate else wrapped:
            matrix = b"0 1 -1 0 %.1f 72" % (760 - y) if turned else b"1 0 0 1 72 %.1f" % y
            lines.append(b"%s Tm (%s) Tj" % (matrix, _escape(line)))
            y -= 14
        y -= 10  # the space between paragraphs
    lines.append(b"ET")
    return b"\n".join(lines)


def _hyphenated(lines: list[str]) -> list[str]:
    """Lines where half of each next line's first word moves up, after a hyphen."""
    out = list(lines)
    for index in range(len(out) - 1):
        word, _, rest = out[index + 1].partition(" ")
        half = len(word) // 2
        out[index] += f" {word[:half]}-"
        out[index + 1] = f"{word[half:]} {rest}".strip()
    return out


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)


def _assemble(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def encrypted_pdf(data: bytes, *, user_password: str) -> bytes:
    """The PDF encrypted with pypdf; an empty user password opens without asking."""
    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt(user_password=user_password, owner_password="owner-secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def sample_docx() -> bytes:
    """A DOCX with a title, headings, lists, a merged-cell table and repeated headers."""
    document = docx.Document()
    document.core_properties.title = "Team Handbook"
    section = document.sections[0]
    section.header.paragraphs[0].text = "ACME Corp — internal"
    section.footer.paragraphs[0].text = "Confidential"
    document.add_heading("Team Handbook", 0)
    document.add_heading("Getting started", 1)
    document.add_paragraph("Welcome aboard.\tPlease read this first.")
    document.add_paragraph("Bring your badge", style="List Bullet")
    document.add_paragraph("Meet your buddy", style="List Number")
    document.add_heading("Office hours", 2)
    table = document.add_table(rows=3, cols=3)
    for row, values in enumerate(
        [("Day", "Open", "Close"), ("Mon", "9", "17"), ("Tue", "9", "17")]
    ):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    table.cell(0, 1).merge(table.cell(0, 2)).text = "Hours"
    table.cell(1, 2).merge(table.cell(2, 2)).text = "17"
    document.add_section(WD_SECTION.NEW_PAGE)  # its header and footer are linked to the first
    document.add_paragraph("The second section has the same header.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def zip_with_extra_member(data: bytes, member: str, size: int, filler: bytes = b"\0") -> bytes:
    """A copy of a ZIP (a DOCX) with one more member of ``size`` repeated ``filler`` bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, source.read(info))
        with target.open(member, "w", force_zip64=True) as handle:
            chunk = filler * (1024 * 1024 // len(filler))
            for _ in range(size // len(chunk)):
                handle.write(chunk)
    return out.getvalue()


def text_image(
    paragraphs: Sequence[Sequence[str]],
    *,
    size: tuple[int, int] = (1400, 600),
    image_format: str = "PNG",
    pages: int = 1,
) -> bytes:
    """An image of text, as a scan or a photo of a page would be: each paragraph's lines
    in a large font, a blank line between paragraphs. ``pages`` > 1 (TIFF) repeats the
    page with its number in front of the first line."""
    font = ImageFont.load_default(size=40)
    frames = []
    for page in range(1, pages + 1):
        image = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(image)
        y = 40
        for n, lines in enumerate(paragraphs):
            for m, line in enumerate(lines):
                text = f"Page {page}. {line}" if pages > 1 and n == m == 0 else line
                draw.text((50, y), text, fill="black", font=font)
                y += 56
            y += 60
        frames.append(image)
    out = io.BytesIO()
    frames[0].save(out, format=image_format, save_all=pages > 1, append_images=frames[1:])
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels but holds almost no data (a
    decompression bomb's header: Pillow reads the size before any pixel)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b"")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pageless_pdf() -> bytes:
    """A well-formed PDF whose page tree holds no page."""
    return _assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [] /Count 0 >>",
            b"<< >>",
            b"<< >>",
            b"<< /Title (Nothing) >>",
        ]
    )
