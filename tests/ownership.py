"""What in the database belongs to an end user, found from the schema itself.

:func:`owned_by` starts at the user's ``end_users`` row and follows every foreign key of
``Base.metadata`` backwards (rows pointing at one of theirs are theirs too), so a table
added later is covered without naming it here. :func:`references_to` then lists every
row, in every table, that still points at one of those rows or mentions one of their
distinctive strings (how a channel knows them, the ids of their jobs, holds, payments).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, PrimaryKeyConstraint, String, Table, UniqueConstraint, select

from core.services import Services
from core.storage.models import Base

Row = dict[str, Any]
MEDIA = re.compile(r"media:[0-9a-f]{32}\.[a-z0-9]+")
DISTINCTIVE = 12  # shorter strings (a day, "free:3") could belong to anyone


@dataclass
class Ownership:
    """One user's rows by table, and the strings that identify them."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    marks: set[str] = field(default_factory=set)

    def keys(self, table: Table) -> set[tuple[Any, ...]]:
        return {_key(table, row) for row in self.rows.get(table.name, [])}

    def values(self, table: Table, column: str) -> set[Any]:
        return {row[column] for row in self.rows.get(table.name, [])}

    def media(self) -> set[str]:
        """The media references their rows carry (recordings, scripts, exports)."""
        return {m for rows in self.rows.values() for row in rows for m in MEDIA.findall(_text(row))}


async def everything(services: Services) -> dict[str, list[Row]]:
    """Every row of every table."""
    async with services.db.read() as session:
        return {
            table.name: [dict(r._mapping) for r in await session.execute(select(table))]
            for table in Base.metadata.sorted_tables
        }


async def owned_by(services: Services, end_user_id: int, *names: str) -> Ownership:
    """The rows of the end user and the strings that identify them: ``names`` (how the
    channels know them) and the distinctive strings of their rows (string primary keys,
    unique columns)."""
    stored = await everything(services)
    owned = Ownership()
    owned.rows["end_users"] = [r for r in stored["end_users"] if r["id"] == end_user_id]
    assert owned.rows["end_users"], f"no end user {end_user_id}"
    grew = True
    while grew:
        grew = False
        for table in Base.metadata.sorted_tables:
            mine = owned.keys(table)
            theirs = [
                (fk.parent.name, owned.values(fk.column.table, fk.column.name))
                for fk in table.foreign_keys
            ]
            for row in stored[table.name]:
                if _key(table, row) not in mine and any(
                    row[column] in values for column, values in theirs
                ):
                    owned.rows.setdefault(table.name, []).append(row)
                    mine.add(_key(table, row))
                    grew = True
    owned.marks.update(names)
    for table in Base.metadata.sorted_tables:
        for column in _identifying(table):
            owned.marks.update(
                v
                for v in owned.values(table, column.name)
                if isinstance(v, str) and len(v) >= DISTINCTIVE
            )
    return owned


async def references_to(services: Services, owned: Ownership) -> list[str]:
    """Every row still pointing at one of ``owned``'s rows or mentioning one of its
    marks, described for an assertion message (empty when there is none)."""
    found = []
    for name, rows in (await everything(services)).items():
        table = Base.metadata.tables[name]
        mine = owned.keys(table)
        for row in rows:
            problems = (
                [f"is one of theirs ({_key(table, row)})"] if _key(table, row) in mine else []
            )
            for fk in table.foreign_keys:
                value = row[fk.parent.name]
                if value is not None and value in owned.values(fk.column.table, fk.column.name):
                    problems.append(f"{fk.parent.name} points at their {fk.column.table.name}")
            text = _text(row)
            problems += [f"mentions {mark!r}" for mark in owned.marks if mark in text]
            found += [f"{name} {row}: {problem}" for problem in problems]
    return found


def missing(before: Ownership, after: dict[str, list[Row]]) -> list[str]:
    """The rows of ``before`` that are gone from ``after``."""
    gone = []
    for name, rows in before.rows.items():
        table = Base.metadata.tables[name]
        now = {_key(table, row) for row in after[name]}
        gone += [f"{name} {row}" for row in rows if _key(table, row) not in now]
    return gone


def unchanged(before: Ownership, after: dict[str, list[Row]]) -> list[str]:
    """The rows of ``before`` that are gone or different in ``after``."""
    differences = []
    for name, rows in before.rows.items():
        table = Base.metadata.tables[name]
        now = {_key(table, row): row for row in after[name]}
        for row in rows:
            if now.get(_key(table, row)) != row:
                differences.append(f"{name} {row} became {now.get(_key(table, row))}")
    return differences


def _identifying(table: Table) -> Iterable[Column[Any]]:
    """String columns whose values name one row: single primary keys, unique columns."""
    unique = {
        next(iter(c.columns)).name
        for c in table.constraints
        if isinstance(c, PrimaryKeyConstraint | UniqueConstraint) and len(c.columns) == 1
    }
    for column in table.columns:
        if isinstance(column.type, String) and (column.unique or column.name in unique):
            yield column


def _key(table: Table, row: Row) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _text(row: Row) -> str:
    return json.dumps(row, default=str, ensure_ascii=False)
