"""Builds the objects a Chorus process runs on, in one place, and closes them in reverse.

The web server (``create_app``) and the terminal commands both open their services here,
so a conversation behaves the same whichever way it reaches the engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bots.registry import BotDirectory
from core.composer import GroundedComposer
from core.dialogue import Dialogue
from core.engine import ConversationEngine
from core.generation import EmptyKnowledge
from core.metrics import Metrics
from core.settings import Settings
from core.storage.database import Database


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a running process shares."""

    settings: Settings
    db: Database
    bots: BotDirectory
    engine: ConversationEngine
    metrics: Metrics


def build_services(settings: Settings, metrics: Metrics | None = None) -> Services:
    """Construct (without connecting) the database, bot directory and engine."""
    metrics = metrics or Metrics()
    db = Database(settings.effective_database_url, pool_size=settings.database_pool_size)
    bots = BotDirectory(db)
    dialogue = Dialogue(EmptyKnowledge(), GroundedComposer())
    engine = ConversationEngine(db, bots, dialogue, metrics)
    return Services(settings, db, bots, engine, metrics)


async def prepare(services: Services) -> None:
    """Migrate the schema and make sure a fresh installation has the demo bot."""
    await services.db.migrate()
    await services.bots.ensure_demo()


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Build, prepare and finally close the services (for CLI commands)."""
    services = build_services(settings)
    try:
        await prepare(services)
        yield services
    finally:
        await close(services)


async def close(services: Services) -> None:
    """Stop the engine's writer, then close the database."""
    await services.engine.close()
    await services.db.close()
