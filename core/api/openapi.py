"""The OpenAPI 3.1 document of the API's endpoints, built from their declarations.

pydantic's JSON Schema is the 2020-12 dialect OpenAPI 3.1 uses, so the models' schemas go
into ``components`` as they are. Every answer an operation can give is declared, the
problems included: a client (and schemathesis in the tests) can rely on the list.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

if TYPE_CHECKING:
    from core.api.spec import Endpoint

_PARAM = re.compile(r"\{(\w+)\}")
#: the groups of operations, in the order the reference shows them
TAGS = {
    "accounts": "Your account: registering, logging in, tokens and API keys.",
    "bots": "Your bots: their name, persona and greeting; pausing and deleting them.",
    "knowledge": "What a bot knows: documents to upload and learn, and searching them.",
    "conversations": "Who talks to a bot, and what was said.",
    "content": "The personalised content a bot made for its users, with its recordings.",
    "credits": "What a bot charges, and each user's credits.",
    "widget": "The website widget: its look, the websites it may appear on, its embed code.",
    "analytics": "How a bot is doing over the last days.",
    "webhooks": "Your bots' events, sent to your own URLs.",
    "broadcasts": "Messages to every subscriber of a bot, and how each went.",
    "schedules": "Messages sent to every subscriber at a time of their own day.",
}
_REASONS = {
    400: "the body, a parameter or a header cannot be read",
    401: "missing, expired or revoked credentials",
    403: "the credentials lack the scope",
    404: "not found (or not yours)",
    409: "conflict",
    413: "the body is too large",
    415: "the body is not of a type this operation reads",
    422: "the body or a parameter does not match the schema",
    429: "too many attempts; see Retry-After",
}


def path_parameters(path: str) -> list[str]:
    """The names of the ``{parameters}`` of a path, in order."""
    return _PARAM.findall(path)


def response_model(response: Any) -> type[BaseModel] | None:
    """The model of an endpoint's answer: itself, or the item of a ``list[Model]``."""
    if isinstance(response, type) and issubclass(response, BaseModel):
        return response
    args = getattr(response, "__args__", ())
    return args[0] if args and isinstance(args[0], type) else None


def document(endpoints: list[Endpoint], prefix: str, problem: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints``, mounted under ``prefix``."""
    models: set[type[BaseModel]] = {problem}
    for e in endpoints:
        models |= {m for m in (e.body, response_model(e.response)) if m is not None}
    _, schemas = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        if e.tag not in TAGS:
            raise ValueError(f"{e.method} {e.path}: the tag {e.tag!r} is not one of TAGS")
        paths.setdefault(prefix + e.path, {})[e.method.lower()] = _operation(e, problem.__name__)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Chorus API",
            "version": "1",
            "description": "Creators' REST API: accounts, bots, knowledge, conversations, "
            "content, credits, widget and analytics.\n\n"
            "Send `Authorization: Bearer TOKEN` with an access token from "
            "`POST /api/v1/auth/login` or an API key. Errors are RFC 7807 problems "
            "(`application/problem+json`) carrying the id of the request.",
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
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


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _operation(e: Endpoint, problem: str) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": e.operation_id, "summary": e.summary, "tags": [e.tag]}
    names = path_parameters(e.path)
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in names
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
            "content": {"application/json": {"schema": _ref(e.body.__name__)}},
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
    op["responses"] = _responses(e, bool(names), problem)
    if e.scope is not None:
        op["security"] = [{"bearer": []}]
    return op


def _responses(e: Endpoint, has_path: bool, problem_name: str) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    model = response_model(e.response)
    if model is None:
        responses[str(e.status)] = {"description": "done"}
    else:
        schema: dict[str, Any] = _ref(model.__name__)
        if model is not e.response:
            schema = {"type": "array", "items": schema}
        responses[str(e.status)] = {
            "description": e.summary,
            "content": {"application/json": {"schema": schema}},
        }
    problem = {"content": {"application/problem+json": {"schema": _ref(problem_name)}}}
    codes = set(e.errors)
    if e.body is not None or e.upload:  # unreadable, too large, or not the schema
        codes |= {400, 413, 422}
    if e.query is not None:
        codes.add(422)
    if has_path:  # a path naming nothing (or another creator's)
        codes.add(404)
    if e.scope is not None:
        codes |= {401, 403, 429}
    if e.idempotent:  # a malformed key, a twin still running, another request's key
        codes |= {400, 409, 422}
    for code in sorted(codes):
        responses[str(code)] = {"description": _REASONS.get(code, "error"), **problem}
    return responses
