"""Schema migrations and the database handle, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from core.errors import StorageUnavailable
from core.storage.database import Database, alembic_config, normalise_url, script_head
from core.storage.models import Base


def _tables(connection: Any) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_upgrade_downgrade_and_match_the_models(database_url: str) -> None:
    db = Database(database_url)
    try:
        await db.migrate()
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
            assert await conn.run_sync(_differences) == []
        await db.downgrade("base")
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await db.migrate()
        await db.migrate()  # running it again changes nothing
        async with db.engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
    finally:
        await db.close()


def test_the_newest_migration_is_read_as_alembic_reads_it() -> None:
    assert script_head() == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_a_schema_behind_the_scripts_is_brought_up_to_date(database_url: str) -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    head = scripts.get_current_head()
    assert head is not None
    previous = scripts.get_revision(head).down_revision
    assert isinstance(previous, str)
    db = Database(database_url)
    try:
        await db.migrate()
        await db.downgrade(previous)
        await db.migrate()  # not taken for up to date: the stored revision is older
        async with db.engine.connect() as conn:
            stored = await conn.scalars(text("SELECT version_num FROM alembic_version"))
            assert list(stored) == [head]
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
            assert await conn.run_sync(_differences) == []
    finally:
        await db.close()


async def test_unreachable_database_is_reported_with_the_url() -> None:
    db = Database("postgresql://someone:secret@127.0.0.1:1/none")
    with pytest.raises(StorageUnavailable) as caught:
        await db.ping()
    assert "secret" not in str(caught.value)
    assert "127.0.0.1:1" in caught.value.url
    await db.close()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_plain_urls_get_the_async_driver(given: str, expected: str) -> None:
    assert normalise_url(given) == expected
