"""The REST API's routes, declared once with their pydantic schemas.

Each endpoint names its request and response models, the scope a caller needs and the
errors it may answer; from that one declaration the route parses and validates the
request (RFC 7807 problems for anything wrong, with the request id), calls the handler
with the authenticated creator, serialises the response, and the OpenAPI 3.1 document
at ``/openapi.json`` is built (pydantic's JSON Schema is the 2020-12 dialect OpenAPI 3.1
uses). ``/docs`` renders that document as a page.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from core.logs import REQUEST_ID
from core.storage.models import as_utc

#: a moment in an answer: always with its offset (UTC), as RFC 3339 and clients want
Moment = Annotated[datetime, AfterValidator(as_utc)]

PREFIX = "/api/v1"
MAX_BODY = 64 * 1024
_PARAM = re.compile(r"\{(\w+)\}")


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
        """Add every endpoint under ``/api/v1``, ``/openapi.json`` and ``/docs``."""
        for endpoint in self.endpoints:
            app.router.add_route(
                endpoint.method, PREFIX + endpoint.path, _view(endpoint, authenticate, once)
            )
        document = json.dumps(self.openapi())
        page = self.docs_page()

        async def openapi(_request: web.Request) -> web.Response:
            return web.Response(text=document, content_type="application/json")

        async def docs(_request: web.Request) -> web.Response:
            return web.Response(text=page, content_type="text/html")

        app.router.add_get("/openapi.json", openapi)
        app.router.add_get("/docs", docs)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of these endpoints."""
        models: set[type[BaseModel]] = {Problem}
        for e in self.endpoints:
            models |= {m for m in (e.body, _model(e.response)) if m is not None}
        _, schemas = models_json_schema(
            [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
            ref_template="#/components/schemas/{model}",
        )
        paths: dict[str, dict[str, Any]] = {}
        for e in self.endpoints:
            paths.setdefault(PREFIX + e.path, {})[e.method.lower()] = _operation(e)
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "Chorus API",
                "version": "1",
                "description": "Creators' REST API: accounts, bots, knowledge, conversations, "
                "content, credits, widget and analytics. Errors are RFC 7807 problems.",
            },
            "paths": paths,
            "components": {
                "schemas": schemas.get("$defs", {}),
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "an access token from /auth/login, or an API key",
                    }
                },
            },
        }

    def docs_page(self) -> str:
        """A self-contained page listing the endpoints (no scripts from elsewhere)."""
        rows = []
        for tag in dict.fromkeys(e.tag for e in self.endpoints):
            rows.append(f"<h2>{html.escape(tag)}</h2><table>")
            for e in (e for e in self.endpoints if e.tag == tag):
                body = e.body.__name__ if e.body else ""
                answer = _name(e.response) or "—"
                scope = e.scope or "public"
                rows.append(
                    f"<tr><td class=m>{e.method}</td><td><code>{html.escape(PREFIX + e.path)}"
                    f"</code></td><td>{html.escape(e.summary)}</td><td>{html.escape(body)}</td>"
                    f"<td>{e.status} {html.escape(answer)}</td><td>{html.escape(scope)}</td></tr>"
                )
            rows.append("</table>")
        return (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Chorus API</title>"
            "<style>body{font:15px system-ui;margin:2em;max-width:70em}td{padding:.3em .6em;"
            "border-bottom:1px solid #ddd}.m{font-weight:bold}</style>"
            "<h1>Chorus API v1</h1><p>The machine-readable description is "
            "<a href=/openapi.json>/openapi.json</a> (OpenAPI 3.1). Send "
            "<code>Authorization: Bearer TOKEN</code> with an access token or an API key; "
            "errors are <code>application/problem+json</code>.</p>" + "".join(rows) + "</html>"
        )


def _view(
    endpoint: Endpoint, authenticate: Authenticator, once: Once
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def view(request: web.Request) -> web.StreamResponse:
        try:
            creator_id = 0
            if endpoint.scope is not None:
                creator_id = await authenticate(request, endpoint.scope)
            query = _validated(endpoint.query, dict(request.query), "query")
            body = await _body(request, endpoint.body)
            call = Call(request, creator_id, body, dict(request.match_info), query)

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


async def _body(request: web.Request, model: type[BaseModel] | None) -> BaseModel | None:
    if model is None:
        return None
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "Payload Too Large", f"the body is over {MAX_BODY // 1024} KB")
    raw = await request.read()  # whole (aiohttp refuses past client_max_size)
    if len(raw) > MAX_BODY:
        raise ApiError(413, "Payload Too Large", f"the body is over {MAX_BODY // 1024} KB")
    if not raw.strip():
        errors = [{"loc": [], "msg": "a JSON body is required", "type": "missing"}]
        raise ValidationFailed(errors)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed(_errors(exc)) from None


def _validated(model: type[BaseModel] | None, values: dict[str, str], where: str) -> Any:
    if model is None:
        return None
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ValidationFailed(_errors(exc, where)) from None


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


def _model(response: Any) -> type[BaseModel] | None:
    if isinstance(response, type) and issubclass(response, BaseModel):
        return response
    args = getattr(response, "__args__", ())
    return args[0] if args and isinstance(args[0], type) else None


def _name(response: Any) -> str | None:
    model = _model(response)
    if model is None:
        return None
    return model.__name__ if model is response else f"[{model.__name__}]"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(e: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": e.operation_id, "summary": e.summary, "tags": [e.tag]}
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(e.path)
    ]
    if e.idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": "the same key with the same request gives the first answer again",
            }
        )
    if e.query is not None:
        query = e.query.model_json_schema()
        for name, prop in query.get("properties", {}).items():
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in query.get("required", ()),
                    "schema": {k: v for k, v in prop.items() if k != "title"},
                    **({"description": prop["description"]} if "description" in prop else {}),
                }
            )
    if parameters:
        op["parameters"] = parameters
    if e.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(e.body)}},
        }
    elif e.upload:
        op["requestBody"] = {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {
                                "type": "string",
                                "contentMediaType": "application/octet-stream",
                            }
                        },
                        "required": ["file"],
                    }
                }
            },
        }
    responses: dict[str, Any] = {}
    model = _model(e.response)
    if model is None:
        responses[str(e.status)] = {"description": "done"}
    else:
        schema: dict[str, Any] = _ref(model)
        if model is not e.response:
            schema = {"type": "array", "items": schema}
        responses[str(e.status)] = {
            "description": e.summary,
            "content": {"application/json": {"schema": schema}},
        }
    problem = {"content": {"application/problem+json": {"schema": _ref(Problem)}}}
    codes = set(e.errors)
    if e.body is not None or e.query is not None or e.upload:
        codes.add(422)
    if e.scope is not None:
        codes |= {401, 403, 429}
    if e.idempotent:  # a malformed key, a twin still running, another request's key
        codes |= {400, 409, 422}
    for code in sorted(codes):
        responses[str(code)] = {"description": _REASONS.get(code, "error"), **problem}
    op["responses"] = responses
    if e.scope is not None:
        op["security"] = [{"bearer": []}]
    return op


_REASONS = {
    400: "bad request",
    401: "missing, expired or revoked credentials",
    403: "the credentials lack the scope",
    404: "not found (or not yours)",
    409: "conflict",
    413: "the body is too large",
    422: "the body does not match the schema",
    429: "too many attempts; see Retry-After",
}
