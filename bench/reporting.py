"""What every benchmark prints and keeps: its rows as an aligned table, percentiles of its
timings, and a results file that says on which machine, and under what load, the numbers
were taken (timings on a shared machine mean little without it).

The scripts run as ``python bench/X.py`` from the repository root and put the root on
``sys.path`` first, so they import this module as ``bench.reporting``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any


def print_table(title: str, rows: Sequence[Any]) -> None:
    """Print ``rows`` (dataclasses or mappings) under ``title`` as an aligned table.

    There is a column for every field, in the order the fields first appear (a row
    without one leaves its cell empty); the first column, the rows' labels, is aligned
    left and the others, mostly numbers, right.
    """
    records = [_record(row) for row in rows]
    columns = list(dict.fromkeys(key for record in records for key in record))
    cells = [columns] + [[str(record.get(c, "")) for c in columns] for record in records]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    print(f"\n{title}")
    for line in cells:
        aligned = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(aligned).rstrip())


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) of ``values``, interpolated between the two closest
    ranks as numpy's default and ``statistics.quantiles(method="inclusive")`` do; NaN when
    there are no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: Sequence[float], p: float) -> float:
    """The ``p``-th percentile of durations in seconds, in milliseconds to 0.01."""
    return round(percentile(seconds, p) * 1000, 2)


class Conditions:
    """The machine a run measured on and its load average (1, 5 and 15 min) before and
    after: a context manager around the measuring, read when reporting."""

    def __init__(self) -> None:
        self.before = self.after = os.getloadavg()

    def __enter__(self) -> Conditions:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.after = os.getloadavg()

    def describe(self, shared_by: str = "") -> str:
        """One line: the machine, whose cores they were, Python, the load averages."""
        cores = f"{os.cpu_count()} cores" + (f" shared by {shared_by}" if shared_by else "")
        return (
            f"{platform.machine()}, {cores}, Python {platform.python_version()}; "
            f"load average (1/5/15 min) before {_loads(self.before)}, after {_loads(self.after)}"
        )

    def as_json(self) -> dict[str, Any]:
        """The fields that open every results file."""
        return {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in self.before],
            "load_average_after": [round(x, 2) for x in self.after],
            "argv": sys.argv[1:],
        }


def write_results(path: Path, conditions: Conditions, fields: Mapping[str, Any]) -> None:
    """Write the run's conditions and ``fields`` to ``path`` as JSON, and say where.

    Dataclasses anywhere in ``fields`` are written as objects of their fields.
    """
    document = {**conditions.as_json(), **fields}
    text = json.dumps(document, indent=2, ensure_ascii=False, default=_record)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    print(f"\nwrote {path}")


def _record(row: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return dataclasses.asdict(row)
    if isinstance(row, Mapping):
        return dict(row)
    raise TypeError(f"not a dataclass or a mapping: {type(row).__name__}")


def _loads(averages: Sequence[float]) -> str:
    return " ".join(f"{x:.2f}" for x in averages)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level edit distance over the reference length (punctuation and case dropped),
    as speech recognition is scored."""
    from rapidfuzz.distance import Levenshtein

    def words(text: str) -> list[str]:
        return "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()

    ref = words(reference)
    return Levenshtein.distance(ref, words(hypothesis)) / max(1, len(ref))
