"""``/docs`` in a real browser: Swagger UI, served by the app alone, renders every
operation of ``/openapi.json`` with its request and response schemas; and what the
document says reads right once Swagger UI renders it (descriptions are Markdown,
summaries plain text)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from markdown_it import MarkdownIt
from playwright.async_api import Browser, Page, Request, Route, expect

from core.api.routes import API

DOCUMENT = API.openapi()
#: milliseconds Swagger UI may take to render the reference, or an operation opened,
#: on a busy machine (it takes one or two seconds on an idle one)
RENDERED = 30_000
METHODS = ("get", "put", "post", "delete", "patch")


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method.upper(), path, operation


def schema(reference: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = DOCUMENT["components"]["schemas"][reference["$ref"].split("/")[-1]]
    return found


def referenced(model: dict[str, Any]) -> set[str]:
    """The references to schemas in a schema's properties."""
    found = set(re.findall(r"'(#/components/schemas/\w+)'", str(model.get("properties", {}))))
    return found


class Watched:
    """What a page did: requests to anywhere but the server (refused), console errors,
    script errors and answers that failed."""

    def __init__(self) -> None:
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []


@pytest.fixture
async def docs(browser: Browser, server: TestServer) -> AsyncIterator[tuple[Page, Watched]]:
    """``/docs`` loaded in a tab that may reach nothing but the server."""
    origin = str(server.make_url("/"))
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched()

    async def only_the_server(route: Route, request: Request) -> None:
        watched.requests.append(request.url)
        if request.url.startswith(origin):
            await route.continue_()
        else:
            watched.elsewhere.append(request.url)
            await route.abort()

    await context.route("**/*", only_the_server)
    page = await context.new_page()
    page.on("console", lambda m: m.type == "error" and watched.errors.append(m.text))
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    page.on(
        "response",
        lambda r: r.status >= 400 and watched.errors.append(f"{r.status} {r.url}"),
    )
    await page.goto(str(server.make_url("/docs")))
    yield page, watched
    await context.close()


async def test_the_reference_lists_every_operation_and_needs_nothing_from_elsewhere(
    docs: tuple[Page, Watched], server: TestServer
) -> None:
    page, watched = docs
    blocks = page.locator(".swagger-ui .opblock")
    expected = {(method, path) for method, path, _ in operations(DOCUMENT)}
    await expect(blocks).to_have_count(len(expected), timeout=RENDERED)
    listed = set()
    for block in await blocks.all():
        method = await block.locator(".opblock-summary-method").inner_text()
        path = await block.locator(".opblock-summary-path").get_attribute("data-path")
        listed.add((method.upper(), path))
    assert listed == expected
    # the groups in the document's order, each with its description
    tags = page.locator(".opblock-tag-section h3 .nostyle span")
    await expect(tags).to_have_text([tag["name"] for tag in DOCUMENT["tags"]])
    # every schema of the document is there, by name
    names = page.locator("section.models .json-schema-2020-12__title")
    await expect(names).to_have_count(len(DOCUMENT["components"]["schemas"]))
    assert set(await names.all_inner_texts()) == set(DOCUMENT["components"]["schemas"])
    await expect(page.locator(".swagger-ui .errors-wrapper")).to_have_count(0)

    icon = await page.request.get(str(server.make_url("/favicon.ico")))
    assert icon.status == 200
    assert watched.elsewhere == []
    assert watched.errors == []
    assert str(server.make_url("/openapi.json")) in watched.requests


SAMPLE = {
    ("PUT", "/api/v1/bots/{bot_id}/pricing"),
    ("POST", "/api/v1/bots/{bot_id}/documents"),
    ("GET", "/api/v1/bots"),
    ("GET", "/api/v1/bots/{bot_id}/conversations"),
    ("DELETE", "/api/v1/bots/{bot_id}"),
    ("POST", "/api/v1/auth/register"),
}
# what an expanded operation shows: its request body's schema, and each answer's code
# with its schema (Swagger UI renders OpenAPI 3.1 schemas as json-schema-2020-12 blocks)
SHOWN = """block => {
    const text = node => node ? node.innerText : null;
    const request = block.querySelector(".opblock-section-request-body");
    const schema = request && request.querySelector(".json-schema-2020-12");
    const answers = {};
    for (const row of block.querySelectorAll("tr.response")) {
        answers[row.dataset.code] = text(row.querySelector(".json-schema-2020-12")) || "";
    }
    return {request: text(schema) || text(request), answers: answers};
}"""


async def test_an_operation_shows_its_request_body_and_every_answer_with_its_schema(
    docs: tuple[Page, Watched],
) -> None:
    page, watched = docs
    await expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=RENDERED)
    # one operation of each kind (Swagger UI takes a second or two to open one): a JSON
    # body with nested models, a file upload, a list, a page with query parameters, no
    # content, no credentials
    opened = 0
    for method, path, operation in operations(DOCUMENT):
        if (method, path) not in SAMPLE:
            continue
        opened += 1
        block = page.locator(f"#operations-{operation['tags'][0]}-{operation['operationId']}")
        await block.locator(".opblock-summary-control").click()
        answers = block.locator(".opblock-body tr.response")
        await expect(answers.first).to_be_visible(timeout=RENDERED)
        folded = block.locator(".opblock-section-request-body").get_by_role(
            "button", name="Expand all"
        )
        for _ in range(20):  # the nested models too (a click unfolds all inside)
            if not await folded.count():
                break
            await folded.first.click()
        shown = await block.evaluate(SHOWN)
        request = operation.get("requestBody", {}).get("content", {})
        if "application/json" in request:
            model = schema(request["application/json"]["schema"])
            for field, spec in model.get("properties", {}).items():
                if spec.get("readOnly"):  # answered, never sent: not part of a request
                    continue
                assert field in shown["request"], f"{method} {path}: no {field} in the body"
            for name in referenced(model):  # nested models, field by field
                for field in schema({"$ref": name}).get("properties", {}):
                    assert field in shown["request"], f"{method} {path}: no {name}.{field}"
        elif "multipart/form-data" in request:
            assert "file" in shown["request"], f"{method} {path}: no file in the body"
        assert set(shown["answers"]) == set(operation["responses"]), f"{method} {path}"
        for code, answer in operation["responses"].items():
            content = answer.get("content", {})
            if content:
                reference = next(iter(content.values()))["schema"]
                model = schema(reference.get("items", reference))
                sent = request.get("application/json", {}).get("schema") == reference
                for field, spec in model.get("properties", {}).items():
                    if sent and spec.get("readOnly"):
                        # Swagger UI leaves a read-only field out of a model that the same
                        # operation also sends (seen with PUT .../pricing)
                        continue
                    assert field in shown["answers"][code], f"{method} {path} {code}: {field}"
        await block.locator(".opblock-summary-control").click()  # closed again
    assert opened == len(SAMPLE)
    assert watched.elsewhere == []
    assert watched.errors == []


def strings(value: Any, where: str = "") -> Iterator[tuple[str, str, str]]:
    """Every summary and description in the document: (where, which, text)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("summary", "description") and isinstance(item, str):
                yield where, key, item
            else:
                yield from strings(item, f"{where}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{where}/{index}")


def test_descriptions_read_the_same_rendered_as_markdown_and_summaries_are_plain() -> None:
    # Swagger UI renders descriptions as Markdown (HTML in them is dropped) and shows
    # summaries as they are: a description may only use code spans, and a summary
    # nothing Markdown would mean
    markdown = MarkdownIt()
    found = list(strings(DOCUMENT))
    assert len(found) > 100
    for where, which, text in found:
        if which == "summary":
            assert not re.search(r"[`*_<>\[\]#\\]", text), f"{where}: {text!r}"
            continue
        rendered = html.unescape(re.sub(r"<[^>]+>", "", markdown.render(text)))
        assert " ".join(rendered.split()) == " ".join(text.replace("`", "").split()), (
            f"{where}: {text!r} renders as {rendered!r}"
        )
