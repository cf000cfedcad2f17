"""How long the guided flow takes to read an answer in any shipped language.

Reads every answer of the per-language tables in ``tests/test_core/test_reading.py``
(durations, times of day, feelings, paces, voice, navigation, content types in eight
languages) with the language known and unknown, many times, and reports the time per
answer by kind (a turn's budget for all of its reading is about 1 ms); then the time a
fresh interpreter takes to import and compile every lexicon.

``python bench/reading.py`` (a few seconds).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reporting import Conditions, ms, print_table, write_results
from tests.test_core.test_reading import CASES, read

ROOT = Path(__file__).resolve().parent.parent


def per_answer(rounds: int) -> list[dict[str, object]]:
    """Seconds per answer read, by kind, over ``rounds`` passes of every table."""
    timings: defaultdict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for language, kind, text, _expected in CASES:
            for known in (language, None):
                started = time.perf_counter()
                read(kind, text, known)
                timings[kind].append(time.perf_counter() - started)
    return [
        {"kind": kind, "answers": len(times), "p50_ms": ms(times, 50), "p99_ms": ms(times, 99)}
        for kind, times in sorted(timings.items())
    ]


def import_seconds(runs: int) -> list[float]:
    """Seconds a fresh interpreter spends importing the reader: num2words, the lexicons
    and their compiled patterns (the foundation modules it uses are imported first)."""
    code = (
        "import time, core.content, core.messages; t = time.perf_counter(); "
        "import core.conversation.reading; print(time.perf_counter() - t)"
    )
    seconds = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, check=True
        )
        seconds.append(float(out.stdout))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/reading.json")
    args = parser.parse_args()
    with Conditions() as conditions:
        rows = per_answer(args.rounds)
        imports = import_seconds(5)
    print_table("Reading one answer (all eight languages matched at once)", rows)
    print_table(
        "Importing the reader (num2words, eight lexicons, compiled patterns)",
        [{"runs": len(imports), "p50_ms": ms(imports, 50), "max_ms": ms(imports, 100)}],
    )
    print(f"\n{conditions.describe()}")
    write_results(args.json, conditions, {"per_answer": rows, "import_seconds": imports})


if __name__ == "__main__":
    main()
