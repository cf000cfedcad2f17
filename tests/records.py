"""Log records as the server's own handler has them: stamped with their request id."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from core.logs import RequestIdFilter


class Records(logging.Handler):
    """Keeps the records it is given, stamped with their request id."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def recorded(name: str) -> Iterator[Records]:
    """The records logger ``name`` (and those below it) emit while the block runs."""
    records = Records()
    logger = logging.getLogger(name)
    logger.addHandler(records)
    try:
        yield records
    finally:
        logger.removeHandler(records)
