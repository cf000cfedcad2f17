"""The database handle: engine, sessions, migrations and a readiness probe.

SQLite (the default) allows one writer at a time, so write transactions are serialised in
the process with an asyncio lock and across processes by SQLite's busy timeout; WAL lets
readers run alongside. PostgreSQL gets a connection pool and no process-wide lock.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import PoolResetState

from core.errors import StorageUnavailable

log = logging.getLogger("chorus.storage")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
BUSY_TIMEOUT_MS = 5000
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(.+?)\s*$", re.MULTILINE)


def normalise_url(url: str) -> str:
    """Pick the async driver for a plain ``postgres://``, ``postgresql://`` or ``sqlite://`` URL."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def _sqlite_reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """The pool's reset of a returned connection, skipped when there is nothing to undo.

    SQLAlchemy rolls back every connection it takes back, even one whose transaction was
    just committed; through aiosqlite that is one more trip to its thread and back for
    every write transaction, which a busy event loop makes slow while the write lock is
    held.
    """
    pending = dbapi_connection.driver_connection.in_transaction
    if pending and state.asyncio_safe and not state.terminate_only:
        dbapi_connection.rollback()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """One relational database, shared by everything in a process."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.display_url = parsed.render_as_string(hide_password=True)
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                # a path that cannot be created fails later, clearly, when first opened
                with contextlib.suppress(OSError):
                    Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_async_engine(self.url, pool_reset_on_return=None)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "reset", _sqlite_reset)
        else:
            self.engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; nothing it does is committed."""
        with self._translate_errors():
            async with self.sessions() as session:
                yield session

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits together at the end, or not at all."""
        lock = self._write_lock or contextlib.nullcontext()
        with self._translate_errors():
            async with lock, self.sessions.begin() as session:
                yield session

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise StorageUnavailable(self.display_url, _reason(exc)) from exc
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            raise StorageUnavailable(self.display_url, _reason(exc)) from exc
        except (OSError, TimeoutError) as exc:
            raise StorageUnavailable(self.display_url, str(exc) or type(exc).__name__) from exc

    async def ping(self) -> None:
        """Raise :class:`StorageUnavailable` unless a trivial query succeeds."""
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` with Alembic (safe to run at every start).

        At most starts the schema is up to date already: that is recognised with one
        query against the newest migration script's revision, without loading Alembic and
        its scripts (a third of a second); anything else is Alembic's to do."""
        with self._translate_errors():
            if revision == "head" and (head := script_head()) is not None:
                async with self.engine.connect() as conn:
                    if await conn.run_sync(_stored_revisions) == {head}:
                        return
            async with self.engine.begin() as conn:
                if not self.is_sqlite:
                    # several processes may start at once; one migrates, the others wait
                    await conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
                await conn.run_sync(_run_alembic, "upgrade", revision)

    async def downgrade(self, revision: str) -> None:
        """Take the schema back to ``revision``."""
        with self._translate_errors():
            async with self.engine.begin() as conn:
                await conn.run_sync(_run_alembic, "downgrade", revision)

    async def close(self) -> None:
        await self.engine.dispose()


def alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def script_head() -> str | None:
    """The newest revision of the migration scripts, read from their ``revision`` and
    ``down_revision`` lines; None unless every script has both as plain literals and they
    make one line of history (then Alembic sorts it out)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(script.read_text(encoding="utf-8")))
        try:
            revision = ast.literal_eval(found["revision"])
            parent = ast.literal_eval(found["down_revision"])
        except (KeyError, ValueError, SyntaxError):
            return None
        if not isinstance(revision, str) or not isinstance(parent, str | None):
            return None
        revisions.add(revision)
        if parent is not None:
            parents.add(parent)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _stored_revisions(connection: Connection) -> set[str]:
    """The revisions the database's schema is at (none for a new database)."""
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return set(connection.scalars(text("SELECT version_num FROM alembic_version")))


def _run_alembic(connection: Any, command_name: str, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, command_name)(config, revision)


def _reason(exc: Exception) -> str:
    original = getattr(exc, "orig", None) or exc
    message = str(original).strip().splitlines()[0] if str(original).strip() else repr(original)
    if "locked" in message:
        return "the database file is locked by another program; try again when it is free"
    if "unable to open" in message:
        return "the database file cannot be opened (check the path and its permissions)"
    return message
