"""What the API's resource modules share: the endpoint registry, strict request models,
the caller's bot (404 for anyone else's) and cursor pagination."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bots.profile import BotProfile
from core.api.spec import Api, ApiError, Call, storable, what
from core.errors import UnknownBot
from core.storage.models import Base, as_utc

if TYPE_CHECKING:
    from billing.credits import Credits
    from bots.ambience import BotAmbience
    from bots.features import FeatureSwitches
    from bots.ingestion import DocumentJobs
    from bots.languages import BotLanguageSettings
    from bots.registry import BotDirectory
    from core.api.accounts import Accounts
    from core.outreach.broadcasts import Broadcasts
    from core.people.privacy import EndUserData
    from core.settings import Settings
    from core.storage.database import Database
    from core.storage.media import MediaStore
    from knowledge.base import KnowledgeBase
    from knowledge.retrieval import HybridRetriever

API = Api()

#: the largest id a row can have (a signed 64-bit integer in both databases)
MAX_ID = 2**63 - 1

Text = Annotated[str, StringConstraints(max_length=4000)]
Item = TypeVar("Item", bound=BaseModel)
Row = TypeVar("Row", bound=Base)


class Strict(BaseModel):
    """A request model that refuses fields it does not know."""

    model_config = ConfigDict(extra="forbid")


class PageQuery(Strict):
    """``?limit=&cursor=``: a page of a listing, newest first unless said otherwise."""

    limit: int = Field(default=50, ge=1, le=200, description="items per page")
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="next_cursor of the previous page"
    )


class Page(BaseModel, Generic[Item]):
    """A page of a listing; ``next_cursor`` is null on the last one."""

    items: list[Item]
    next_cursor: str | None


class ApiServices(Protocol):
    """What the API uses of the process's services. The composition root hands its
    services over under :data:`API_SERVICES`; the API never imports it."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def bots(self) -> BotDirectory: ...
    @property
    def accounts(self) -> Accounts: ...
    @property
    def knowledge(self) -> KnowledgeBase: ...
    @property
    def retriever(self) -> HybridRetriever: ...
    @property
    def documents(self) -> DocumentJobs: ...
    @property
    def media(self) -> MediaStore: ...
    @property
    def privacy(self) -> EndUserData: ...
    @property
    def credits(self) -> Credits: ...
    @property
    def features(self) -> FeatureSwitches: ...
    @property
    def ambience(self) -> BotAmbience: ...
    @property
    def languages(self) -> BotLanguageSettings: ...
    @property
    def broadcasts(self) -> Broadcasts | None: ...


#: where a web application keeps the services its API uses
API_SERVICES = web.AppKey("api_services", ApiServices)


def services(call: Call) -> ApiServices:
    return call.request.app[API_SERVICES]


async def owned_bot(call: Call) -> BotProfile:
    """The bot of the path, if it is the caller's; 404 otherwise (theirs or nobody's)."""
    try:
        profile = await services(call).bots.get(call.path["bot_id"])
    except UnknownBot:
        profile = None
    if profile is None or profile.creator_id != call.creator_id:
        raise not_found("bot")
    return profile


def not_found(thing: str) -> ApiError:
    return ApiError(404, "Not Found", f"no such {thing}")


def path_id(call: Call, name: str) -> int:
    """A numeric id of the path; 404 when it is not one (it names nothing)."""
    value = call.path[name]
    if not value.isdigit() or len(value) > 18:
        raise not_found(what(name))
    return int(value)


async def owned_row(call: Call, model: type[Row], name: str) -> tuple[BotProfile, Row]:
    """The bot of the path and its row of ``model`` whose id is the path's ``name``;
    404 for a row of another bot, as for one that does not exist."""
    profile = await owned_bot(call)
    row_id = path_id(call, name)
    async with services(call).db.read() as session:
        row = await session.get(model, row_id)
    if row is None or getattr(row, "bot_id", None) != profile.id:
        raise not_found(what(name))
    return profile, row


def encode_cursor(*values: Any) -> str:
    """An opaque cursor holding the sort key of the last item of a page."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *kinds: type) -> tuple[Any, ...]:
    """The sort key in ``cursor`` (of the given kinds); 422 when it was not ours."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError("wrong length")
        return tuple(
            datetime.fromisoformat(v) if kind is datetime else _exactly(kind, v)
            for kind, v in zip(kinds, raw, strict=True)
        )
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            422, "Unprocessable Content", "the cursor is not one this API gave"
        ) from None


def _exactly(kind: type, value: Any) -> Any:
    # a cursor is the client's to send back: what it holds must fit the column, or the
    # database would refuse the query
    if type(value) is not kind:
        raise TypeError(f"expected {kind.__name__}")
    if isinstance(value, int) and abs(value) > MAX_ID:
        raise ValueError("out of range")
    if isinstance(value, str) and not storable(value):
        raise ValueError("not text a column holds")
    return value


async def keyset(
    session: AsyncSession,
    statement: Select[Any],
    query: PageQuery,
    *columns: InstrumentedAttribute[Any],
    newest_first: bool = True,
) -> tuple[list[Any], str | None]:
    """A page of ``statement``'s rows ordered by ``columns`` (the last one unique),
    after the query's cursor; the rows and the cursor of the next page (None on the
    last). Several columns are compared as a row, ``(a, b) < (x, y)``, which both
    databases turn into an index range (the equivalent ``a < x OR (a = x AND b < y)``
    is filtered row by row, so a page would cost more the deeper it is)."""
    if query.cursor:
        last = decode_cursor(query.cursor, *(column.type.python_type for column in columns))
        position = tuple_(*columns) if len(columns) > 1 else columns[0]
        bound = tuple_(*last) if len(columns) > 1 else last[0]
        statement = statement.where(position < bound if newest_first else position > bound)
    order = [column.desc() if newest_first else column.asc() for column in columns]
    rows = list(await session.scalars(statement.order_by(*order).limit(query.limit + 1)))
    if len(rows) <= query.limit:
        return rows, None
    rows = rows[: query.limit]
    key = (getattr(rows[-1], column.key) for column in columns)
    return rows, encode_cursor(*(as_utc(v) if isinstance(v, datetime) else v for v in key))
