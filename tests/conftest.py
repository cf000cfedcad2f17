"""Shared fixtures: every storage-backed test runs on SQLite and on PostgreSQL.

PostgreSQL is a real server (127.0.0.1:5432 by default, ``--postgres-url`` to change).
Each test session gets its own freshly created database, dropped at the end; tests that
need it fail, never skip, when the server cannot be reached.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser
from pytest_aiohttp import AiohttpClient, AiohttpServer
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.app import create_app
from core.services import Services, build_services, close, prepare
from core.settings import Settings
from core.storage.models import Base
from tests.browser import chromium
from tests.servers import chroma_server
from tests.test_channels.telegram_app import Client, services_ready, start

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help="a PostgreSQL server where test databases can be created",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Draw the run's schemathesis seed once, in the process that starts the run, so the
    workers (which inherit its environment) share it and the header can print it."""
    if not hasattr(config, "workerinput") and not os.environ.get("API_FUZZ_SEED"):
        os.environ["API_FUZZ_SEED"] = str(secrets.randbits(64))


def pytest_sessionstart(session: pytest.Session) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not hasattr(session.config, "workerinput"):
        seed = os.environ["API_FUZZ_SEED"]
        reporter.write_line(f"schemathesis seed {seed} (API_FUZZ_SEED={seed} runs it again)")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(admin_url: str, statement: str) -> None:
    conn = await asyncpg.connect(_dsn(admin_url), timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A freshly created PostgreSQL database, dropped afterwards."""
    admin_url = request.config.getoption("--postgres-url")
    name = f"chorus_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database for this test session."""
    yield from _database(request)


@pytest.fixture
def own_postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL database of this test alone, for processes that start up on it (and
    so must not find the bots and pending work other tests left behind)."""
    yield from _database(request)


@pytest.fixture(scope="module")
def module_postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL database of this test module alone, for a server the module starts
    once (see own_postgres_url)."""
    yield from _database(request)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The database URL of a test, once per backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'chorus.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def app_database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings naming the database of an app a test starts, once per backend: SQLite
    under its data directory (the default), or a PostgreSQL database of its own."""
    if request.param == "postgresql":
        return {"database_url": request.getfixturevalue("own_postgres_url")}
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data")


async def _empty(services: Services) -> None:
    if services.db.is_sqlite:
        return  # a new file per test
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with services.db.transaction() as session:
        await session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    """Migrated, empty storage with the demo bot, and an engine on top."""
    built = build_services(settings)
    await built.db.migrate()
    await _empty(built)
    await prepare(built)
    yield built
    await close(built)


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    """A Chroma server of this test only (``chroma run``); fails, never skips, if it
    cannot start."""
    server, url = chroma_server(tmp_path)
    server.start()
    yield url
    server.stop()


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Client]:
    """The whole app on the test's database, started and ready, for REST API calls."""
    client = await start(settings)
    await services_ready(client)
    yield client
    await client.close()


@pytest.fixture
async def server(
    aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient, tmp_path: Path
) -> TestServer:
    """The whole application, as ``chorus serve`` runs it with its default settings, on
    127.0.0.1 and a free port (for the browser tests), once it is ready (the demo bot has
    learned its notes)."""
    served = await aiohttp_server(create_app(Settings(data_dir=tmp_path / "data")))
    await services_ready(await aiohttp_client(served))
    return served


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's chromium, headless (see tests.browser)."""
    async with chromium() as launched:
        yield launched
