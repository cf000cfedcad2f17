"""``/api/v1``: creators' accounts, API keys and bots.

A creator reaches only their own bots: any other bot id answers 404, exactly as a bot
that does not exist, so ids of other creators' bots cannot even be confirmed.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field, StrictBool, StringConstraints

from bots.profile import BotProfile, LanguageError
from bots.registry import MAX_NAME
from core.api import (
    account,
    ambience,
    analytics,
    billing,
    broadcasts,
    content,
    conversations,
    docs,
    knowledge,
    schedules,
    webhooks,
    widget,
)
from core.api.account import erase_bot
from core.api.accounts import ACCOUNT, EMAIL, SCOPES, Accounts, Tokens
from core.api.common import API, API_SERVICES, Strict, Text, owned_bot, services
from core.api.idempotency import Idempotency
from core.api.spec import RATE_HEADERS, ApiError, Call, Endpoint, Moment, Run
from core.errors import BotNameTaken

#: the resource modules whose endpoints register on API when imported
RESOURCES = (
    account,
    knowledge,
    conversations,
    content,
    billing,
    widget,
    analytics,
    webhooks,
    broadcasts,
    schedules,
    ambience,
)

# --- accounts --------------------------------------------------------------------------


class Registration(Strict):
    email: Annotated[str, StringConstraints(max_length=254, pattern=EMAIL.pattern)]
    password: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    name: Annotated[str, StringConstraints(max_length=200)] = ""


class Credentials(Strict):
    email: Annotated[str, StringConstraints(max_length=254)]
    password: Annotated[str, StringConstraints(max_length=200)]


class RefreshRequest(Strict):
    refresh_token: Annotated[str, StringConstraints(max_length=2000)]


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name
    expires_in: int = Field(description="seconds the access token lives")
    creator_id: int


class KeyRequest(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    scopes: list[str] = Field(min_length=1, max_length=len(SCOPES), examples=[list(SCOPES)])


class KeyInfo(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_at: Moment
    last_used_at: Moment | None
    revoked_at: Moment | None


class NewKey(KeyInfo):
    key: str = Field(description="shown once: keep it secret")


def _pair(tokens: Tokens) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        creator_id=tokens.creator_id,
    )


def _accounts(call: Call) -> Accounts:
    return services(call).accounts


@API.route(
    "POST",
    "/auth/register",
    summary="Create a creator account",
    tag="accounts",
    scope=None,
    body=Registration,
    response=TokenPair,
    status=201,
    errors=(409,),
)
async def register(call: Call) -> TokenPair:
    body: Registration = call.body
    return _pair(await _accounts(call).register(body.email, body.password, body.name))


@API.route(
    "POST",
    "/auth/login",
    summary="Log in: an access token (15 min) and a refresh token (7 days)",
    tag="accounts",
    scope=None,
    body=Credentials,
    response=TokenPair,
    errors=(401, 429),
)
async def login(call: Call) -> TokenPair:
    body: Credentials = call.body
    address = call.request.remote or "unknown"
    return _pair(await _accounts(call).login(body.email, body.password, address))


@API.route(
    "POST",
    "/auth/refresh",
    summary="Spend a refresh token for a new pair (a reused one ends its sessions)",
    tag="accounts",
    scope=None,
    body=RefreshRequest,
    response=TokenPair,
    errors=(401,),
)
async def refresh(call: Call) -> TokenPair:
    body: RefreshRequest = call.body
    return _pair(await _accounts(call).refresh(body.refresh_token))


@API.route(
    "POST",
    "/auth/logout",
    summary="End the session of a refresh token",
    tag="accounts",
    scope=None,
    body=RefreshRequest,
    status=204,
    errors=(401,),
)
async def logout(call: Call) -> None:
    body: RefreshRequest = call.body
    await _accounts(call).logout(body.refresh_token)


@API.route(
    "POST",
    "/api-keys",
    summary="Create an API key with some scopes",
    tag="accounts",
    scope=ACCOUNT,
    body=KeyRequest,
    response=NewKey,
    status=201,
    idempotent=True,
)
async def create_api_key(call: Call) -> NewKey:
    body: KeyRequest = call.body
    row, key = await _accounts(call).create_key(call.creator_id, body.name, body.scopes)
    return NewKey.model_validate({**_key_info(row).model_dump(), "key": key})


@API.route(
    "GET", "/api-keys", summary="List your API keys", tag="accounts", scope=ACCOUNT,
    response=list[KeyInfo],
)  # fmt: skip
async def list_api_keys(call: Call) -> list[KeyInfo]:
    return [_key_info(row) for row in await _accounts(call).keys(call.creator_id)]


@API.route(
    "DELETE",
    "/api-keys/{key_id}",
    summary="Revoke an API key",
    tag="accounts",
    scope=ACCOUNT,
    status=204,
    errors=(404,),
)
async def revoke_api_key(call: Call) -> None:
    await _accounts(call).revoke_key(call.creator_id, call.path["key_id"])


def _key_info(row: object) -> KeyInfo:
    return KeyInfo.model_validate(row, from_attributes=True)


# --- bots ------------------------------------------------------------------------------


class BotCreate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")] | None = None
    persona: Text = ""
    greeting: Text = ""


class FeaturesChange(Strict):
    """Features to switch; those left out stay as they are."""

    create: StrictBool | None = Field(
        default=None, description="guided creation of meditations, affirmations and rituals"
    )


LanguageCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8}){0,4}$", max_length=35)
]


class LanguagesChange(Strict):
    """Language settings to change; those left out stay as they are."""

    default: LanguageCode | None = Field(
        default=None, description="the language of users whose language it doesn't offer"
    )
    offered: Annotated[list[LanguageCode], Field(min_length=1, max_length=50)] | None = Field(
        default=None, description='the languages it speaks to its users, e.g. ["en", "es"]'
    )
    greetings: Annotated[dict[LanguageCode, Text], Field(max_length=50)] | None = Field(
        default=None,
        description="its greeting by language, merged into those it has; an empty text "
        "removes a language's (which then gets the bot's own greeting)",
    )
    personas: Annotated[dict[LanguageCode, Text], Field(max_length=50)] | None = Field(
        default=None, description="its persona by language, as greetings"
    )


class BotChange(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)] | None = None
    persona: Text | None = None
    greeting: Text | None = None
    features: FeaturesChange | None = None
    languages: LanguagesChange | None = None


class FeaturesOut(BaseModel):
    """What a bot offers besides answers from its material."""

    create: bool = Field(
        description="guided creation of meditations, affirmations and rituals: /create, "
        "the greeting's buttons, and requests to make something"
    )


class LanguagesOut(BaseModel):
    """The languages a bot speaks, and its greeting and persona in each."""

    default: str = Field(description="for users whose language it doesn't offer")
    offered: list[str] = Field(description="the languages it speaks to its users")
    greetings: dict[str, str] = Field(description="its greeting in other languages")
    personas: dict[str, str] = Field(description="its persona in other languages")


class BotOut(BaseModel):
    id: str
    name: str
    persona: str
    greeting: str
    paused: bool
    features: FeaturesOut
    languages: LanguagesOut


def _bot(profile: BotProfile) -> BotOut:
    return BotOut(
        id=profile.id,
        name=profile.name,
        persona=profile.persona,
        greeting=profile.greeting,
        paused=profile.paused,
        features=FeaturesOut(create=profile.features.create),
        languages=LanguagesOut(
            default=profile.languages.default,
            offered=list(profile.languages.offered),
            greetings=dict(profile.languages.greetings),
            personas=dict(profile.languages.personas),
        ),
    )


@API.route(
    "GET", "/bots", summary="List your bots", tag="bots", scope="bots:read",
    response=list[BotOut],
)  # fmt: skip
async def list_bots(call: Call) -> list[BotOut]:
    svc = services(call)
    return [_bot(b) for b in await svc.bots.owned(call.creator_id)]


@API.route(
    "POST",
    "/bots",
    summary="Create a bot",
    tag="bots",
    scope="bots:write",
    body=BotCreate,
    response=BotOut,
    status=201,
    errors=(409,),
    idempotent=True,
)
async def create_bot(call: Call) -> BotOut:
    body: BotCreate = call.body
    svc = services(call)
    try:
        profile = await svc.bots.create(
            body.name,
            persona=body.persona,
            greeting=body.greeting,
            bot_id=body.id,
            creator=None,
            owner=call.creator_id,
        )
    except BotNameTaken:
        raise ApiError(409, "Conflict", f"the bot id {body.id} is taken") from None
    except ValueError as exc:
        raise ApiError(422, "Unprocessable Content", str(exc)) from None
    return _bot(profile)


@API.route(
    "GET", "/bots/{bot_id}", summary="One of your bots", tag="bots", scope="bots:read",
    response=BotOut, errors=(404,),
)  # fmt: skip
async def get_bot(call: Call) -> BotOut:
    return _bot(await owned_bot(call))


@API.route(
    "PATCH",
    "/bots/{bot_id}",
    summary="Change a bot's name, persona, greeting, features or languages",
    tag="bots",
    scope="bots:write",
    body=BotChange,
    response=BotOut,
    errors=(404,),
)
async def change_bot(call: Call) -> BotOut:
    profile = await owned_bot(call)
    body: BotChange = call.body
    svc = services(call)
    try:
        changed = await svc.bots.update(
            profile.id, name=body.name, persona=body.persona, greeting=body.greeting
        )
    except ValueError as exc:
        raise ApiError(422, "Unprocessable Content", str(exc)) from None
    if body.features is not None:
        changed = await svc.features.switch(
            profile.id, **body.features.model_dump(exclude_none=True)
        )
    if body.languages is not None:
        try:
            changed = await svc.languages.change(
                profile.id, **body.languages.model_dump(exclude_none=True)
            )
        except LanguageError as exc:
            raise ApiError(422, "Unprocessable Content", str(exc)) from None
    return _bot(changed)


@API.route(
    "POST", "/bots/{bot_id}/pause", summary="Pause a bot: end users are told it rests",
    tag="bots", scope="bots:write", response=BotOut, errors=(404,),
)  # fmt: skip
async def pause_bot(call: Call) -> BotOut:
    return await _pause(call, paused=True)


@API.route(
    "POST", "/bots/{bot_id}/resume", summary="Resume a paused bot",
    tag="bots", scope="bots:write", response=BotOut, errors=(404,),
)  # fmt: skip
async def resume_bot(call: Call) -> BotOut:
    return await _pause(call, paused=False)


async def _pause(call: Call, *, paused: bool) -> BotOut:
    profile = await owned_bot(call)
    return _bot(await services(call).bots.update(profile.id, paused=paused))


@API.route(
    "DELETE",
    "/bots/{bot_id}",
    summary="Delete a bot with its documents, users, conversations and content",
    tag="bots",
    scope="bots:write",
    status=204,
    errors=(404,),
)
async def delete_bot(call: Call) -> None:
    profile = await owned_bot(call)
    await erase_bot(services(call), profile.id)


def install(app: web.Application) -> None:
    """The API's routes, ``/openapi.json`` and ``/docs`` on ``app``, whose services
    (``app[API_SERVICES]``) are there once it has started."""

    async def authenticate(request: web.Request, scope: str) -> int:
        accounts = request.app[API_SERVICES].accounts
        creator_id = await accounts.authenticate(request.headers.get("Authorization"), scope)
        request[RATE_HEADERS] = await accounts.meter(creator_id)
        return creator_id

    async def once(call: Call, endpoint: Endpoint, run: Run) -> web.Response:
        return await Idempotency(call.request.app[API_SERVICES].db).once(call, endpoint, run)

    API.install(app, authenticate, once)
    docs.install(app)
