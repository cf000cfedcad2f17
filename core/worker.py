"""``chorus worker``: runs the background jobs queued in Redis (:mod:`core.runtime.jobs`).

Each worker process opens the same services as the web server (database, channels,
speech, knowledge), so a finished job is stored and its result sent to the user's
channel from here: Telegram and WhatsApp directly, the web widget through Redis to the
web process that holds the visitor's socket. SIGTERM lets running jobs finish; SIGKILL
leaves them in the queue, and another worker runs them again.
"""

from __future__ import annotations

import logging
from typing import Any

from arq.connections import RedisSettings
from arq.worker import Worker, func

from bots.ingestion import KIND as DOCUMENT
from core.conversation.studio import KIND as CONTENT
from core.outreach.broadcasts import KIND as BROADCAST
from core.runtime.jobs import MAX_TRIES, worker_function
from core.services import Services, build_services, close, prepare
from core.settings import Settings
from knowledge.indexing import KIND as VECTORS

log = logging.getLogger("chorus.worker")


def build_worker(settings: Settings) -> Worker:
    """An arq worker for the queue of ``settings`` (REDIS_URL, REDIS_PREFIX)."""
    assert settings.redis_url is not None

    async def startup(ctx: dict[str, Any]) -> None:
        services = build_services(settings)
        await prepare(services)
        ctx["services"] = services
        log.info("worker ready on queue %s:jobs", settings.redis_prefix)

    async def shutdown(ctx: dict[str, Any]) -> None:
        services: Services | None = ctx.get("services")
        if services is not None:
            await close(services)

    content = worker_function(CONTENT, lambda ctx: ctx["services"].studio.run)
    document = worker_function(DOCUMENT, lambda ctx: ctx["services"].documents.run)
    broadcast = worker_function(BROADCAST, lambda ctx: ctx["services"].broadcasts.run)
    vectors = worker_function(VECTORS, lambda ctx: ctx["services"].indexer.run)
    return Worker(
        functions=[
            func(content, name=CONTENT, max_tries=MAX_TRIES),
            func(document, name=DOCUMENT, max_tries=MAX_TRIES),
            func(broadcast, name=BROADCAST, max_tries=MAX_TRIES),
            func(vectors, name=VECTORS, max_tries=MAX_TRIES),
        ],
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        queue_name=f"{settings.redis_prefix}:jobs",
        on_startup=startup,
        on_shutdown=shutdown,
        job_timeout=settings.job_timeout_seconds,
        max_tries=MAX_TRIES,
        keep_result=3600,
        handle_signals=True,
        health_check_key=f"{settings.redis_prefix}:worker-health",
    )


def run_worker(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT."""
    build_worker(settings).run()
    return 0
