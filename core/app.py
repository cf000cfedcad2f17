"""The aiohttp application: the only composition root of the web process.

``create_app(settings)`` wires the services onto the application under typed keys, one
``cleanup_ctx`` per resource so that shutdown mirrors start-up, and mounts the routes.
The server starts even when the database is down: ``/health`` answers, ``/ready`` names
the failing part, and the schema is brought up to date as soon as the database returns.
It serves as soon as the schema is ready; what takes seconds to load (the vector store,
the embedding model, the demo bot's notes on a new installation, the Telegram client
when a bot is on Telegram) loads in the background meanwhile, and ``/ready`` answers
200 once it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path

from aiohttp import web
from redis.exceptions import RedisError

from billing.webhooks import WebhookRejected
from bots.manager import COMMANDS as MANAGER_COMMANDS
from channels.telegram_webhook import TelegramChannel
from core.api.common import API_SERVICES
from core.api.routes import install as install_api
from core.api.spec import PREFIX as API_PREFIX
from core.api.spec import unreadable
from core.errors import (
    ChannelRefused,
    ChannelUnreachable,
    ChorusError,
    StorageUnavailable,
    UnknownBot,
)
from core.logs import REQUEST_ID, request_id
from core.metrics import Metrics
from core.runtime.jobs import QueuedJobs
from core.services import (
    SERVICES,
    Services,
    build_services,
    prepare_for_requests,
    resume_vectors,
    teach_demo,
)
from core.services import close as close_services
from core.settings import Settings
from core.storage import repository as repo

log = logging.getLogger("chorus.server")

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
RETRY_SECONDS = 5.0
WEBWIDGET = Path(__file__).resolve().parent.parent / "webwidget"
READY_TIMEOUT = 3.0


class Startup:
    """Whether the schema is ready (``prepared``), whether what loads slowly has loaded too
    (``ready``; ``loading`` names what is loading meanwhile), and the task that gets there,
    trying again while the database is away."""

    def __init__(self) -> None:
        self.prepared = asyncio.Event()
        self.ready = asyncio.Event()
        self.first_attempt = asyncio.Event()
        self.last_error: str | None = None
        self.loading: str | None = None
        self.task: asyncio.Task[None] | None = None

    async def run(self, services: Services) -> None:
        while True:
            try:
                new_demo = await prepare_for_requests(services)
            except StorageUnavailable as exc:
                if self.last_error != exc.reason:
                    log.error(
                        "database not ready, retrying every %ss: %s", RETRY_SECONDS, exc.reason
                    )
                self.last_error = exc.reason
                self.first_attempt.set()
                await asyncio.sleep(RETRY_SECONDS)
            else:
                break
        self.last_error = None
        self.loading = "what the first requests need"
        self.prepared.set()
        self.first_attempt.set()
        log.info("database ready at %s", services.db.display_url)
        await self._load(services, new_demo)
        # what start-up loaded (models, ORM, schemas) lives as long as the process: keep
        # the collector from rescanning it on every collection
        gc.collect()
        gc.freeze()
        self.loading = None
        self.ready.set()
        log.info("ready")
        if services.settings.telegram_polling:
            polled = await services.telegram.start_polling()
            log.info("polling %d Telegram bot(s) for updates", polled)
        if services.manager is not None:
            await introduce_manager(services.telegram)

    async def _load(self, services: Services, new_demo: bool) -> None:
        """Load, while requests are served, what the first of them would otherwise wait
        seconds for. A part that fails is logged and left to load on first use; ``/ready``
        reports the vector store's own failure."""
        parts: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if new_demo:
            parts.append(("the demo bot's notes", lambda: teach_demo(services)))
        try:
            on_telegram = await services.telegram.in_use()
        except StorageUnavailable:
            on_telegram = False  # then aiogram loads with the first update
        if on_telegram:
            # before the rest: an update arriving meanwhile would import it on the loop
            parts.append(("the Telegram client", services.telegram.load))
        parts.append(("the vector store and the embedding model", services.retriever.load))
        for what, load in parts:
            self.loading = what
            started = time.perf_counter()
            try:
                await load()
            except Exception as exc:  # Chroma, the model, the database: their own errors
                log.warning("loading %s failed: %s", what, exc)
            else:
                log.info("loaded %s in %.2f s", what, time.perf_counter() - started)


async def introduce_manager(telegram: TelegramChannel) -> None:
    """Set the manager bot's webhook and menu, retrying while Telegram is unreachable."""
    delay = RETRY_SECONDS
    while True:
        try:
            username = await telegram.start_manager(MANAGER_COMMANDS)
        except ChannelRefused as exc:
            log.error("Telegram refused the manager bot (TELEGRAM_BOT_TOKEN): %s", exc.reason)
            return
        except ChannelUnreachable as exc:
            log.warning(
                "manager bot: Telegram unreachable (%s); again in %.0f s", exc.reason, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 300.0)
        else:
            log.info("the manager bot is @%s", username)
            return


STARTUP = web.AppKey("startup", Startup)


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    services = build_services(app[SETTINGS], app[METRICS])
    startup = Startup()
    app[SERVICES] = services
    app[API_SERVICES] = services
    app[STARTUP] = startup
    startup.task = asyncio.create_task(startup.run(services), name="chorus-startup")
    # a healthy database is ready before the first request; a broken one does not keep
    # the server from starting (it reports itself not ready until the database is back)
    await startup.first_attempt.wait()
    sweeper = asyncio.create_task(_housekeeping(services, startup), name="chorus-housekeeping")
    tasks = [startup.task, sweeper]
    if services.webhooks is not None:
        every = services.settings.webhook_poll_seconds
        sender = services.webhooks.run(every, after=startup.prepared.wait())
        tasks.append(asyncio.create_task(sender, name="chorus-webhooks"))
    if services.scheduler is not None:
        scheduling = services.scheduler.run(after=startup.prepared.wait())
        tasks.append(asyncio.create_task(scheduling, name="chorus-schedules"))
    yield
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await close_services(services)


async def _housekeeping(services: Services, startup: Startup) -> None:
    """Every ``HOUSEKEEPING_SECONDS``: give back the credits held for content whose maker
    died; queue again the content and document jobs still unfinished (one that could not
    be queued while Redis was away, or whose task failed): queuing a job twice is one job,
    and a job gives up after its attempts; and, with Redis, take over the chats whose
    updates a dead web process left pending."""
    await startup.prepared.wait()
    settings = services.settings
    while True:
        await asyncio.sleep(settings.housekeeping_seconds)
        try:
            if released := await services.credits.ledger.expire():
                log.info("released %d expired credit hold(s)", released)
            await services.studio.resume(quiet=True)
            await services.documents.resume(quiet=True)
            await resume_vectors(services, quiet=True)
            await services.inbox.adopt(timedelta(seconds=settings.lock_lease_seconds))
        except StorageUnavailable as exc:
            log.warning("housekeeping failed: %s", exc.reason)


async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """Readiness: every configured dependency answers; 503 names the ones that do not.

    A language model that fails shows as ``degraded`` with 200: answers still come,
    from the grounded composer.
    """
    services = request.app[SERVICES]
    startup = request.app[STARTUP]
    failing: dict[str, str] = {}
    try:
        await asyncio.wait_for(services.db.ping(), timeout=READY_TIMEOUT)
    except StorageUnavailable as exc:
        failing["database"] = exc.reason
    except TimeoutError:
        failing["database"] = f"no answer within {READY_TIMEOUT:g} s"
    if (loading := startup.loading) is not None:
        # start-up is opening the vector store itself: no ping to queue behind it
        failing["startup"] = f"loading {loading}"
    else:
        try:
            await asyncio.wait_for(services.vectors.ping(), timeout=READY_TIMEOUT)
        except TimeoutError:
            failing["vector_store"] = f"no answer within {READY_TIMEOUT:g} s"
        except Exception as exc:  # Chroma raises its own and the HTTP client's errors
            failing["vector_store"] = str(exc) or type(exc).__name__
    if "database" not in failing and not startup.prepared.is_set():
        failing["database"] = startup.last_error or "schema migration still running"
    # a failing language model degrades answers (the grounded composer takes over) but
    # does not make the server unready
    degraded = await _llm_degraded(services) | await _redis_degraded(services)
    if failing:
        body: dict[str, object] = {"status": "unavailable", "failing": failing}
        if degraded:
            body["degraded"] = degraded
        return web.json_response(body, status=503)
    checks = {"database": "ok", "vector_store": "ok"}
    if services.indexer is not None and (stale := services.indexer.stale):
        # answers still come (stale bots are searched by their words), so still ready
        checks["vectors"] = "stale: " + "; ".join(
            f"{s.bot_id} has {s.stale} passage(s) embedded by {', '.join(s.stale_models)}, "
            f"run `chorus reindex {s.bot_id}`"
            for s in stale
        )
    if services.llm is not None:
        checks["llm"] = "degraded" if "llm" in degraded else "ok"
    if services.redis is not None:
        checks["redis"] = "degraded" if "redis" in degraded else "ok"
    if degraded:
        return web.json_response({"status": "degraded", "checks": checks, "degraded": degraded})
    return web.json_response({"status": "ready", "checks": checks})


async def _redis_degraded(services: Services) -> dict[str, str]:
    """``{"redis": reason}`` when a configured Redis does not answer: each process then
    works alone (conversations stay consistent, jobs wait stored, rate limits are off)."""
    if services.redis is None:
        return {}
    try:
        await asyncio.wait_for(services.redis.ping(), timeout=READY_TIMEOUT)
    except TimeoutError:
        reason = f"no answer within {READY_TIMEOUT:g} s"
    except (RedisError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
    else:
        return {}
    return {"redis": f"{reason}; each process works alone until it is back"}


async def _llm_degraded(services: Services) -> dict[str, str]:
    """``{"llm": reason}`` when a configured language model is failing, else empty."""
    if services.llm is None:
        return {}
    try:
        reason = await asyncio.wait_for(services.llm.check(), timeout=READY_TIMEOUT)
    except TimeoutError:
        reason = f"no answer within {READY_TIMEOUT:g} s"
    if reason is None:
        return {}
    return {"llm": f"{reason}; answering with the grounded composer"}


async def media(request: web.Request) -> web.StreamResponse:
    """``GET /media/{signed_id}``: generated audio behind an expiring signed link."""
    return await request.app[SERVICES].media.handle(request)


async def telegram_webhook(request: web.Request) -> web.Response:
    """``POST /webhooks/telegram/{bot_id}``: a Telegram update for one of the bots."""
    return await request.app[SERVICES].telegram.webhook(request)


async def whatsapp_webhook(request: web.Request) -> web.Response:
    """``POST /webhooks/whatsapp/{bot_id}``: a WhatsApp message through Twilio."""
    return await request.app[SERVICES].whatsapp.webhook(request)


async def whatsapp_status(request: web.Request) -> web.Response:
    """``POST /webhooks/whatsapp/{bot_id}/status``: a sent message's delivery status."""
    return await request.app[SERVICES].whatsapp.status(request)


async def stripe_webhook(request: web.Request) -> web.Response:
    """``POST /webhooks/stripe``: a signed Stripe event (payments, subscriptions, refunds)."""
    services = request.app[SERVICES]
    if services.stripe is None:
        return problem(404, "StripeNotConfigured", "set STRIPE_WEBHOOK_SECRET to receive events")
    try:
        handled = await services.stripe.receive(
            await request.read(), request.headers.get("Stripe-Signature")
        )
    except WebhookRejected as exc:
        log.warning("Stripe webhook rejected: %s", exc)
        return problem(400, "WebhookRejected", str(exc))
    if handled.duplicate:
        services.metrics.duplicates.labels("stripe").inc()
    return web.json_response(
        {"received": True, "duplicate": handled.duplicate, "outcome": handled.outcome}
    )


async def checkout_done(request: web.Request) -> web.Response:
    """``GET /billing/done``: where Stripe Checkout leads a widget visitor back to."""
    paid = request.query.get("status") == "paid"
    title = "Thank you!" if paid else "No payment was taken"
    detail = (
        "Your payment is being confirmed; the chat will tell you as soon as it is through. "
        "You can close this tab."
        if paid
        else "Nothing was charged. You can close this tab and go back to the chat."
    )
    page = (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{title}</title><body style="font:16px system-ui;max-width:32em;margin:4em auto;'
        f'padding:0 1em"><h1>{title}</h1><p>{detail}</p></body></html>'
    )
    return web.Response(
        text=page, content_type="text/html", headers={"X-Content-Type-Options": "nosniff"}
    )


async def widget_socket(request: web.Request) -> web.StreamResponse:
    """``GET /ws/widget/{bot_id}``: the web widget's WebSocket."""
    return await request.app[SERVICES].widget.socket(request)


async def widget_script(request: web.Request) -> web.StreamResponse:
    """``GET /widget.js``: the embeddable widget, for any website to load."""
    return _static(WEBWIDGET / "widget.js", "application/javascript; charset=utf-8", max_age=300)


async def demo_page(request: web.Request) -> web.StreamResponse:
    """``GET /``: a page with the demo bot's widget on it."""
    return _static(WEBWIDGET / "demo.html", "text/html; charset=utf-8", max_age=60)


async def favicon(request: web.Request) -> web.StreamResponse:
    """``GET /favicon.ico``: Chorus's icon, for the pages that do not name one."""
    return _static(WEBWIDGET / "favicon.ico", "image/x-icon", max_age=86400)


def _static(path: Path, content_type: str, *, max_age: int) -> web.StreamResponse:
    if not path.is_file():
        raise web.HTTPNotFound(text=f"{path.name} is missing from this installation")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": content_type,
            "Cache-Control": f"public, max-age={max_age}",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def _close_sockets(app: web.Application) -> None:
    """On shutdown, before the services close: widgets are told to go elsewhere."""
    services = app.get(SERVICES)
    if services is not None:
        await services.widget.close()


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of this process's metrics, with the job backlog read now."""
    registry = request.app[METRICS]
    services = request.app.get(SERVICES)
    if services is not None:
        await _read_backlog(services, registry)
    return web.Response(body=registry.render(), headers={"Content-Type": registry.content_type})


async def _read_backlog(services: Services, registry: Metrics) -> None:
    """Content jobs unfinished (and how old the oldest is), and the Redis queue's depth."""
    with contextlib.suppress(StorageUnavailable):
        async with services.db.read() as session:
            counts, oldest = await repo.job_backlog(session)
        for status, count in counts.items():
            registry.content_jobs.labels(status).set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        registry.oldest_job_seconds.set(max(age, 0.0))
    if isinstance(services.jobs, QueuedJobs):
        with contextlib.suppress(RedisError, OSError):
            registry.queue_depth.set(await services.jobs.depth())


@web.middleware
async def webhook_metrics_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Count refused webhook calls by channel and status."""
    if not request.path.startswith("/webhooks/"):
        return await handler(request)
    channel = request.path.split("/")[2][:16]
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _count_refusal(request, channel, exc.status)
        raise
    _count_refusal(request, channel, response.status)
    return response


def _count_refusal(request: web.Request, channel: str, status: int) -> None:
    """A 4xx answer to a webhook, counted with its status's name as the reason."""
    if not 400 <= status < 500:
        return
    try:
        reason = HTTPStatus(status).phrase.lower().replace(" ", "_")  # e.g. "unauthorized"
    except ValueError:
        reason = "refused"
    request.app[METRICS].webhook_rejections.labels(channel, str(status), reason).inc()


_STATUS = {UnknownBot: 404, StorageUnavailable: 503}


@web.middleware
async def request_id_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Give every request an id (the caller's ``X-Request-Id`` when sane), for the logs of
    everything it causes and for the response's ``X-Request-Id``."""
    rid = request_id(request.headers.get("X-Request-Id"))
    token = REQUEST_ID.set(rid)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["X-Request-Id"] = rid
        raise
    finally:
        REQUEST_ID.reset(token)
    if not response.prepared:
        response.headers["X-Request-Id"] = rid
    return response


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn Chorus errors, the API's unknown routes and methods, and bodies that cannot
    be read (cut short, or not in the Content-Encoding they name), into RFC 7807 problem
    responses."""
    try:
        return await handler(request)
    except web.RequestPayloadError as exc:
        answer = problem(400, "Bad Request", f"the body cannot be read ({unreadable(exc)})")
        answer.force_close()  # what is left of the body cannot be told from a next request
        return answer
    except web.HTTPException as exc:
        if not request.path.startswith(API_PREFIX) or exc.status < 400:
            raise
        answer = problem(exc.status, exc.reason, exc.text or exc.reason)
        if "Allow" in exc.headers:  # a 405 names the methods there are
            answer.headers["Allow"] = exc.headers["Allow"]
        return answer
    except ChorusError as exc:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
        return problem(status, type(exc).__name__, str(exc))


def problem(status: int, title: str, detail: str) -> web.Response:
    """An ``application/problem+json`` response; a 503 says when to try again, so that a
    platform retries its webhook rather than giving the update up."""
    headers = {"Retry-After": str(int(RETRY_SECONDS))} if status == 503 else None
    return web.json_response(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "request_id": REQUEST_ID.get(),
        },
        status=status,
        content_type="application/problem+json",
        headers=headers,
    )


def create_app(settings: Settings) -> web.Application:
    """Build the web application for ``settings``."""
    app = web.Application(
        middlewares=[request_id_middleware, webhook_metrics_middleware, problem_middleware],
        client_max_size=1024**2,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_services_ctx)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/media/{signed_id}", media)
    app.router.add_post("/webhooks/telegram/{bot_id}", telegram_webhook)
    app.router.add_post("/webhooks/whatsapp/{bot_id}", whatsapp_webhook)
    app.router.add_post("/webhooks/whatsapp/{bot_id}/status", whatsapp_status)
    app.router.add_post("/webhooks/stripe", stripe_webhook)
    app.router.add_get("/billing/done", checkout_done)
    app.router.add_get("/ws/widget/{bot_id}", widget_socket)
    app.router.add_get("/widget.js", widget_script)
    app.router.add_get("/", demo_page)
    app.router.add_get("/favicon.ico", favicon)
    install_api(app)
    app.on_shutdown.append(_close_sockets)
    return app
