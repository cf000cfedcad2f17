"""``/api/v1/account``: a creator's own account, exported whole or deleted with
everything of theirs (their bots, their bots' users, documents and files)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import func, select

from core.api.accounts import ACCOUNT
from core.api.common import API, ApiServices, Strict, services
from core.api.spec import Call, Moment
from core.storage.models import ApiKey, EndUser, WebhookEndpoint


class AccountOut(BaseModel):
    id: int
    name: str
    email: str
    created_at: Moment


class AccountExport(BaseModel):
    """Everything the account holds of its own: its bots with their settings and
    documents, its API keys and webhooks (never their secrets)."""

    account: AccountOut
    bots: list[dict[str, Any]]
    api_keys: list[dict[str, Any]]
    webhooks: list[dict[str, Any]]


class Confirmation(Strict):
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="the account's password, asked again before deleting everything"
    )


async def erase_bot(svc: ApiServices, bot_id: str) -> None:
    """Delete a bot with everything of it: each end user's rows and files, the
    documents and their vectors, then the bot itself."""
    async with svc.db.read() as session:
        users = list(await session.scalars(select(EndUser.id).where(EndUser.bot_id == bot_id)))
    for user_id in users:
        await svc.privacy.erase(user_id)
    for document in await svc.knowledge.documents(bot_id):
        await svc.knowledge.delete(bot_id, document.id)
    await svc.bots.delete(bot_id)


async def _account(call: Call) -> AccountOut:
    creator, login = await services(call).accounts.login_of(call.creator_id)
    return AccountOut(
        id=creator.id, name=creator.name, email=login.email, created_at=creator.created_at
    )


@API.route(
    "GET", "/account", summary="Your account", tag="accounts", scope=ACCOUNT,
    response=AccountOut,
)  # fmt: skip
async def get_account(call: Call) -> AccountOut:
    return await _account(call)


@API.route(
    "GET", "/account/export",
    summary="Everything of your account: bots, their settings and documents, keys, webhooks",
    tag="accounts", scope=ACCOUNT, response=AccountExport,
)  # fmt: skip
async def export_account(call: Call) -> AccountExport:
    svc = services(call)
    account = await _account(call)
    bots = []
    for profile in await svc.bots.owned(call.creator_id):
        documents = await svc.knowledge.documents(profile.id)
        settings = await svc.bots.settings(profile.id)
        async with svc.db.read() as session:
            users = await session.scalar(
                select(func.count()).select_from(EndUser).where(EndUser.bot_id == profile.id)
            )
        bots.append(
            {
                "id": profile.id,
                "name": profile.name,
                "persona": profile.persona,
                "greeting": profile.greeting,
                "paused": profile.paused,
                "settings": settings,
                "documents": [
                    {"id": d.id, "title": d.title, "source": d.source, "pages": d.pages}
                    for d in documents
                ],
                "end_users": users,
            }
        )
    async with svc.db.read() as session:
        keys = await session.scalars(select(ApiKey).where(ApiKey.creator_id == call.creator_id))
        api_keys = [
            {"id": k.id, "name": k.name, "scopes": k.scopes, "revoked": k.revoked_at is not None}
            for k in keys
        ]
        endpoints = await session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.creator_id == call.creator_id)
        )
        webhooks = [
            {"id": e.id, "url": e.url, "events": e.events, "bot_id": e.bot_id} for e in endpoints
        ]
    return AccountExport(account=account, bots=bots, api_keys=api_keys, webhooks=webhooks)


@API.route(
    "DELETE", "/account",
    summary="Delete your account and everything of it (your password, again)",
    tag="accounts", scope=ACCOUNT, body=Confirmation, status=204,
)  # fmt: skip
async def delete_account(call: Call) -> None:
    svc = services(call)
    body: Confirmation = call.body
    await svc.accounts.confirm(call.creator_id, body.password)
    for profile in await svc.bots.owned(call.creator_id):
        await erase_bot(svc, profile.id)
    await svc.accounts.close(call.creator_id)
