"""The REST API's routes, declared once with their pydantic schemas.

Each endpoint names its request and response models, the scope a caller needs and the
errors it may answer; from that one declaration the route reads and validates the
request, calls the handler with the authenticated creator, serialises the response, and
the OpenAPI document at ``/openapi.json`` is built (:mod:`core.api.openapi`).

Anything wrong with a request is an RFC 7807 problem carrying the request id, never a
server error: a body that cannot be read as JSON is 400, one too large 413, one that
does not match its schema 422 (with every error's place); text no database can store
(a NUL character) is refused where it comes in: 404 in the path (it names nothing), 422
in the query or the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import AfterValidator, BaseModel, ValidationError

from core.api.openapi import document
from core.logs import REQUEST_ID
from core.storage.models import as_utc

#: a moment in an answer: always with its offset (UTC), as RFC 3339 and clients want
Moment = Annotated[datetime, AfterValidator(as_utc)]

PREFIX = "/api/v1"
MAX_BODY = 64 * 1024
#: what no text column can hold: NUL (PostgreSQL refuses it) and the lone surrogates
#: that stand for undecodable bytes
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class ApiError(Exception):
    """An error the API answers with an RFC 7807 problem."""

    def __init__(
        self, status: int, title: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}


class Problem(BaseModel):
    """An error (RFC 7807), with the id of the request for the server's logs."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = Problem(
        title=title, status=status, detail=detail, request_id=REQUEST_ID.get(), errors=errors
    )
    return web.Response(
        body=body.model_dump_json(exclude_none=True),
        status=status,
        content_type="application/problem+json",
        headers=headers,
    )


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler receives: the request, who made it, its parsed body, path and
    query (a model, when the endpoint declares one)."""

    request: web.Request
    creator_id: int
    body: Any
    path: dict[str, str]
    query: Any = None


#: the ``X-RateLimit-*`` headers an authenticated request earned, added to its answer
RATE_HEADERS = web.RequestKey("rate_headers", dict)


Handler = Callable[[Call], Awaitable[BaseModel | list[Any] | None]]
#: returns the creator id behind a request's credentials, or raises ApiError (401, 403)
Authenticator = Callable[[web.Request, str], Awaitable[int]]
Run = Callable[[], Awaitable[web.Response]]
#: runs a creating POST once per Idempotency-Key (see core.api.idempotency)
Once = Callable[[Call, "Endpoint", Run], Awaitable[web.Response]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    scope: str | None  # None: no credentials needed
    body: type[BaseModel] | None
    response: Any  # a model, list[model], or None for 204
    status: int
    errors: tuple[int, ...]
    idempotent: bool
    query: type[BaseModel] | None = None
    # the handler reads a multipart/form-data body itself (a file upload)
    upload: bool = False

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.strip("_")


@dataclass
class Api:
    """The endpoints of ``/api/v1``."""

    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"],
        path: str,
        *,
        summary: str,
        tag: str,
        scope: str | None,
        body: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        errors: tuple[int, ...] = (),
        idempotent: bool = False,
        query: type[BaseModel] | None = None,
        upload: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method,
                    path,
                    handler,
                    summary,
                    tag,
                    scope,
                    body,
                    response,
                    status,
                    errors,
                    idempotent,
                    query,
                    upload,
                )
            )
            return handler

        return register

    def install(self, app: web.Application, authenticate: Authenticator, once: Once) -> None:
        """Add every endpoint under ``/api/v1``, and ``/openapi.json``."""
        for endpoint in self.endpoints:
            app.router.add_route(
                endpoint.method, PREFIX + endpoint.path, _view(endpoint, authenticate, once)
            )
        text = json.dumps(self.openapi())

        async def openapi(_request: web.Request) -> web.Response:
            return web.Response(text=text, content_type="application/json")

        app.router.add_get("/openapi.json", openapi)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of these endpoints."""
        return document(self.endpoints, PREFIX, Problem)


def _view(
    endpoint: Endpoint, authenticate: Authenticator, once: Once
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def view(request: web.Request) -> web.StreamResponse:
        try:
            creator_id = 0
            if endpoint.scope is not None:
                creator_id = await authenticate(request, endpoint.scope)
            path = _path(request)
            query = _query(request, endpoint.query)
            body = await _body(request, endpoint.body)
            call = Call(request, creator_id, body, path, query)

            async def run() -> web.Response:
                return _respond(endpoint, await endpoint.handler(call))

            if endpoint.idempotent and "Idempotency-Key" in request.headers:
                response = await once(call, endpoint, run)
            else:
                response = await run()
        except ApiError as exc:
            response = problem_response(
                exc.status,
                exc.title,
                exc.detail,
                errors=exc.errors if isinstance(exc, ValidationFailed) else None,
                headers=exc.headers,
            )
        response.headers.update(request.get(RATE_HEADERS, {}))
        return response

    view.__name__ = endpoint.operation_id
    return view


def what(name: str) -> str:
    """What a path parameter names, in words: ``bot_id`` is a bot."""
    return name.removesuffix("_id").replace("_", " ")


def storable(text: str) -> bool:
    """Whether a text column of either database can hold ``text``."""
    return _UNSTORABLE.search(text) is None


def _path(request: web.Request) -> dict[str, str]:
    path = dict(request.match_info)
    for name, value in path.items():
        if not storable(value):
            raise ApiError(404, "Not Found", f"no such {what(name)}")
    return path


def _query(request: web.Request, model: type[BaseModel] | None) -> Any:
    if model is None:
        return None
    values = dict(request.query)
    for name, value in values.items():
        if not (storable(name) and storable(value)):
            raise ValidationFailed([_nul(["query", name[:100]])])
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ValidationFailed(_errors(exc, "query")) from None


async def _body(request: web.Request, model: type[BaseModel] | None) -> BaseModel | None:
    if model is None:
        return None
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "Payload Too Large", f"the body is over {MAX_BODY // 1024} KB")
    # whole (aiohttp refuses past client_max_size); a body that cannot be read at all
    # (cut short, or not in its Content-Encoding) is the server's 400 (core.app)
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "Payload Too Large", f"the body is over {MAX_BODY // 1024} KB")
    if not raw.strip():
        errors = [{"loc": [], "msg": "a JSON body is required", "type": "missing"}]
        raise ValidationFailed(errors)
    try:
        body = model.model_validate_json(raw, strict=True)  # JSON has its types: 1 is no "1"
    except ValidationError as exc:
        errors = _errors(exc)
        not_json = next((e for e in errors if e["type"] == "json_invalid"), None)
        if not_json is not None:  # not JSON at all (or not UTF-8), not a wrong field
            detail = f"the body is not JSON: {not_json['msg']}"
            raise ApiError(400, "Bad Request", detail) from None
        raise ValidationFailed(errors) from None
    if (where := _unstorable(body.model_dump(), [])) is not None:
        raise ValidationFailed([_nul(where)])
    return body


def unreadable(exc: Exception) -> str:
    """Why a body could not be read, in one short line (without the bytes aiohttp's
    errors quote at length)."""
    reason = exc.message if isinstance(exc, HttpProcessingError) else str(exc)
    if isinstance(exc, web.RequestPayloadError) and isinstance(exc.__cause__, Exception):
        reason = unreadable(exc.__cause__)
    return reason.strip().splitlines()[0][:200] if reason.strip() else type(exc).__name__


def _unstorable(value: Any, where: list[str | int]) -> list[str | int] | None:
    """Where in a parsed body a string (or a key) holds a NUL character, if anywhere."""
    if isinstance(value, str):
        return None if storable(value) else where
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
        for key in value:
            if isinstance(key, str) and not storable(key):
                return [*where, key]
    elif isinstance(value, list | tuple):
        items = list(enumerate(value))
    for key, item in items:
        if (found := _unstorable(item, [*where, key])) is not None:
            return found
    return None


def _nul(where: list[str | int]) -> dict[str, Any]:
    return {"loc": where, "msg": "text may not contain NUL characters", "type": "string_nul"}


def _errors(exc: ValidationError, where: str | None = None) -> list[dict[str, Any]]:
    prefix = [where] if where else []
    return [
        {"loc": prefix + list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
    ]


class ValidationFailed(ApiError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        where = ".".join(str(part) for part in first["loc"]) or "body"
        super().__init__(422, "Unprocessable Content", f"{where}: {first['msg']}")
        self.errors = errors


def _respond(endpoint: Endpoint, result: BaseModel | list[Any] | None) -> web.Response:
    if result is None:
        return web.Response(status=204)
    if isinstance(result, list):
        text = "[" + ",".join(item.model_dump_json() for item in result) + "]"
    else:
        text = result.model_dump_json()
    return web.Response(text=text, status=endpoint.status, content_type="application/json")
