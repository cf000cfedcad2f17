"""Benchmark of reading scanned documents: accuracy (character error rate) and speed.

Each PDF in ``shared/data/docs`` that is a scan (or a hard text layer) goes through the
real loader, ``knowledge.loaders.load_bytes``, as ingestion runs it: pages without a
usable text layer are rendered and read with OCR, their boxes put back in reading
order. Where the folder has the expected text (``NAME.expected.txt``), the character
error rate is the Levenshtein distance between the two texts over the expected
text's length, after whitespace is collapsed to single spaces (``cer``). The expected
texts are themselves old OCR output (Tesseract's, for the brochure: bullets read as
"0", hyphens as em dashes), so ``cer_typo`` also unifies dashes and quotes and drops
bullet marks before comparing: it counts reading mistakes, not typography.

The OCR engine is loaded once before timing (``model_load_s``); ``s_per_page`` is the
wall-clock time of the whole load divided by the pages read with OCR (or all pages,
when none was). From the repository root: ``python bench/ocr.py`` (~1 min on 2 cores).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz.distance import Levenshtein

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.reporting import Conditions, print_table, write_results
from knowledge.documents import Progress
from knowledge.loaders import load_bytes
from knowledge.loaders.ocr import engine

RESULTS = Path(__file__).parent / "results" / "ocr.json"
DOCS = Path(__file__).resolve().parents[2] / "shared" / "data" / "docs"
DOCUMENTS = (
    "pdf_scanned_no_text_layer_linn_brochure.pdf",
    "pdf_scanned_no_text_layer_huckfinn_p22.pdf",
    "pdf_scanned_french_diacritics.pdf",
    "pdf_image_only_wikipedia_printout_epson.pdf",
    "pdf_ja_two_column_cid_jo.pdf",
)
_SPACE = re.compile(r"\s+")
_BULLET = re.compile(r"(?m)^\s*(?:[•●▪◦]|0(?= [A-Z]))\s*")
_TYPOGRAPHY = str.maketrans({"—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"'})


@dataclass(frozen=True, slots=True)
class Row:
    """One document's results."""

    document: str
    pages: int
    ocr_pages: int
    seconds: float
    s_per_page: float
    chars: int
    cer: str
    cer_typo: str


def whitespace(text: str) -> str:
    """The text with every run of whitespace one space, NFC-normalised."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def typography(text: str) -> str:
    """The text without bullet marks, with dashes and quotes of one kind."""
    return whitespace(_BULLET.sub("", text).translate(_TYPOGRAPHY))


def cer(found: str, expected: str) -> float:
    """Character error rate: edits to turn ``found`` into ``expected``, per expected char."""
    return Levenshtein.distance(found, expected) / max(len(expected), 1)


def measure(name: str) -> Row:
    """Load one document through the real loader and compare it with its expected text."""
    data = (DOCS / name).read_bytes()
    ocr_pages = 0

    def progress(step: Progress) -> None:
        nonlocal ocr_pages
        if step.stage == "ocr" and step.total:
            ocr_pages = step.total

    started = time.perf_counter()
    document = load_bytes(data, name, progress=progress)
    seconds = time.perf_counter() - started
    text = "\n".join(block.text for block in document.blocks)
    expected_file = DOCS / name.replace(".pdf", ".expected.txt")
    strict = typo = "-"
    if expected_file.exists():
        expected = expected_file.read_text(encoding="utf-8")
        strict = f"{cer(whitespace(text), whitespace(expected)):.2%}"
        typo = f"{cer(typography(text), typography(expected)):.2%}"
    pages = document.pages or 1
    return Row(
        document=name.removesuffix(".pdf"),
        pages=pages,
        ocr_pages=ocr_pages,
        seconds=round(seconds, 2),
        s_per_page=round(seconds / max(ocr_pages or pages, 1), 2),
        chars=len(text),
        cer=strict,
        cer_typo=typo,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default {RESULTS}")
    parser.add_argument("--docs", type=Path, default=DOCS, help=f"default {DOCS}")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    with Conditions() as conditions:
        started = time.perf_counter()
        engine()
        model_load = time.perf_counter() - started
        for name in DOCUMENTS:
            if (args.docs / name).exists():
                rows.append(measure(name))
                print(f"[{len(rows)}/{len(DOCUMENTS)}] {name}", flush=True)
    print_table("Scanned documents: character error rate and time", rows)
    print(f"\nOCR model load: {model_load:.2f} s")
    print(conditions.describe())
    write_results(args.json, conditions, {"model_load_s": round(model_load, 2), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
