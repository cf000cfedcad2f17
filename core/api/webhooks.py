"""``/api/v1/webhooks``: creators' endpoints for outgoing webhooks, and what was
delivered to them (see :mod:`core.runtime.integrations`)."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import func, select

from core.api.common import (
    API,
    Page,
    PageQuery,
    Strict,
    keyset,
    not_found,
    services,
)
from core.api.spec import ApiError, Call, Moment
from core.errors import UnknownBot
from core.runtime.integrations import EVENTS, MAX_ENDPOINTS, new_secret
from core.storage.models import WebhookDelivery, WebhookEndpoint, utcnow
from knowledge.netguard import is_public

Event = Literal[EVENTS]  # type: ignore[valid-type]
Url = Annotated[str, StringConstraints(min_length=8, max_length=2000)]


class EndpointCreate(Strict):
    url: Url = Field(description="https:// address that receives the events' POSTs")
    events: list[Event] = Field(min_length=1, max_length=len(EVENTS))
    bot_id: str | None = Field(default=None, max_length=64, description="one bot, or all")


class EndpointChange(Strict):
    url: Url | None = None
    events: list[Event] | None = Field(default=None, min_length=1, max_length=len(EVENTS))
    active: bool | None = None


class EndpointOut(BaseModel):
    id: str
    url: str
    events: list[str]
    bot_id: str | None
    active: bool
    created_at: Moment


class NewEndpoint(EndpointOut):
    secret: str = Field(description="signs every delivery (Chorus-Signature); shown once")


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None = Field(description="the HTTP status the receiver answered")
    last_error: str | None
    last_attempt_at: Moment | None
    next_attempt_at: Moment | None = Field(description="when it is tried again, if pending")
    delivered_at: Moment | None
    created_at: Moment
    payload: str = Field(description="the JSON body sent")


class DeliveryPage(Page[DeliveryOut]):
    pass


class DeliveriesQuery(PageQuery):
    status: Literal["pending", "delivered", "failed"] | None = None


def _endpoint(row: WebhookEndpoint) -> EndpointOut:
    return EndpointOut.model_validate(row, from_attributes=True)


def _delivery(row: WebhookDelivery) -> DeliveryOut:
    out = DeliveryOut.model_validate(row, from_attributes=True)
    return out if row.status == "pending" else out.model_copy(update={"next_attempt_at": None})


def _checked_url(call: Call, url: str) -> str:
    """An address webhooks may be sent to: https (http too on a server that allows
    private addresses, for development), and never a private address literal."""
    parts = urlsplit(url)
    allow_private = services(call).settings.allow_private_urls
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise ApiError(422, "Unprocessable Content", "the url must be https://host/…")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if literal is not None and not allow_private and not is_public(parts.hostname):
        raise ApiError(422, "Unprocessable Content", "the url points to a private address")
    return url


async def _owned(call: Call) -> WebhookEndpoint:
    async with services(call).db.read() as session:
        row = await session.get(WebhookEndpoint, call.path["webhook_id"][:32])
    if row is None or row.creator_id != call.creator_id:
        raise not_found("webhook")
    return row


@API.route(
    "POST", "/webhooks", summary="Send some events of your bots to a URL",
    tag="webhooks", scope="webhooks", body=EndpointCreate, response=NewEndpoint, status=201,
    errors=(404, 409), idempotent=True,
)  # fmt: skip
async def create_webhook(call: Call) -> NewEndpoint:
    body: EndpointCreate = call.body
    svc = services(call)
    if body.bot_id is not None:
        try:
            profile = await svc.bots.get(body.bot_id)
        except UnknownBot:
            profile = None
        if profile is None or profile.creator_id != call.creator_id:
            raise not_found("bot")
    row = WebhookEndpoint(
        id="we_" + uuid.uuid4().hex[:24],
        creator_id=call.creator_id,
        bot_id=body.bot_id,
        url=_checked_url(call, body.url),
        events=sorted(set(body.events)),
        secret=new_secret(),
        active=True,
        created_at=utcnow(),
    )
    async with svc.db.transaction() as session:
        count = await session.scalar(
            select(func.count()).where(WebhookEndpoint.creator_id == call.creator_id)
        )
        if (count or 0) >= MAX_ENDPOINTS:
            raise ApiError(409, "Conflict", f"an account has at most {MAX_ENDPOINTS} webhooks")
        session.add(row)
    return NewEndpoint(**_endpoint(row).model_dump(), secret=row.secret)


@API.route(
    "GET", "/webhooks", summary="Your webhooks", tag="webhooks", scope="webhooks",
    response=list[EndpointOut],
)  # fmt: skip
async def list_webhooks(call: Call) -> list[EndpointOut]:
    async with services(call).db.read() as session:
        rows = await session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.creator_id == call.creator_id)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
        return [_endpoint(row) for row in rows]


@API.route(
    "GET", "/webhooks/{webhook_id}", summary="One webhook", tag="webhooks", scope="webhooks",
    response=EndpointOut, errors=(404,),
)  # fmt: skip
async def get_webhook(call: Call) -> EndpointOut:
    return _endpoint(await _owned(call))


@API.route(
    "PATCH", "/webhooks/{webhook_id}", summary="Change a webhook's URL or events, or pause it",
    tag="webhooks", scope="webhooks", body=EndpointChange, response=EndpointOut, errors=(404,),
)  # fmt: skip
async def change_webhook(call: Call) -> EndpointOut:
    row = await _owned(call)
    body: EndpointChange = call.body
    async with services(call).db.transaction() as session:
        stored = await session.get(WebhookEndpoint, row.id)
        if stored is None:
            raise not_found("webhook")
        if body.url is not None:
            stored.url = _checked_url(call, body.url)
        if body.events is not None:
            stored.events = sorted(set(body.events))
        if body.active is not None:
            stored.active = body.active
        return _endpoint(stored)


@API.route(
    "DELETE", "/webhooks/{webhook_id}", summary="Delete a webhook and its deliveries",
    tag="webhooks", scope="webhooks", status=204, errors=(404,),
)  # fmt: skip
async def delete_webhook(call: Call) -> None:
    row = await _owned(call)
    async with services(call).db.transaction() as session:
        stored = await session.get(WebhookEndpoint, row.id)
        if stored is not None:
            await session.delete(stored)


@API.route(
    "GET", "/webhooks/{webhook_id}/deliveries",
    summary="What was sent to a webhook, newest first, with each one's status",
    tag="webhooks", scope="webhooks", query=DeliveriesQuery, response=DeliveryPage,
    errors=(404,),
)  # fmt: skip
async def list_deliveries(call: Call) -> DeliveryPage:
    row = await _owned(call)
    query: DeliveriesQuery = call.query
    statement = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == row.id)
    if query.status:
        statement = statement.where(WebhookDelivery.status == query.status)
    async with services(call).db.read() as session:
        rows, cursor = await keyset(
            session, statement, query, WebhookDelivery.created_at, WebhookDelivery.id
        )
    return DeliveryPage(items=[_delivery(r) for r in rows], next_cursor=cursor)


@API.route(
    "POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    summary="Send a delivery again now (a failed one gets its attempts back)",
    tag="webhooks", scope="webhooks", response=DeliveryOut, status=202, errors=(404,),
)  # fmt: skip
async def retry_delivery(call: Call) -> DeliveryOut:
    row = await _owned(call)
    async with services(call).db.transaction() as session:
        delivery = await session.get(WebhookDelivery, call.path["delivery_id"][:36])
        if delivery is None or delivery.endpoint_id != row.id:
            raise not_found("delivery")
        if delivery.status != "delivered":
            delivery.status = "pending"
            delivery.attempts = 0
            delivery.next_attempt_at = utcnow()
        return _delivery(delivery)
