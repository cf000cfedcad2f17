"""Loading from URLs against a local aiohttp server: success and every way it can fail."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from knowledge.documents import Block, BlockKind, Limits, Progress
from knowledge.errors import AddressRefused, DocumentTooLarge, FetchFailed, UnsupportedDocument
from knowledge.loaders import load_url
from tests.test_knowledge.loader_samples import text_pdf

PAGE = (
    "<!doctype html><html><head><title>Calm Studio</title></head>"
    "<body><h1>Welcome</h1><p>Breathe in, breathe out.</p></body></html>"
)
STREAM_CAP = 64 * 1024 * 1024


class Site:
    """A small web site whose handlers record what happened on the server side."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent = 0
        self.stream_done = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/page", self.page)
        app.router.add_get("/latin1", self.latin1)
        app.router.add_get("/guide.pdf", self.pdf)
        app.router.add_get("/missing", self.missing)
        app.router.add_get("/private", self.private)
        app.router.add_get("/broken", self.broken)
        app.router.add_get("/busy", self.busy)
        app.router.add_get("/image", self.image)
        app.router.add_get("/binary", self.binary)
        app.router.add_get("/endless", self.endless)
        app.router.add_get("/declared-big", self.declared_big)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/loop", self.loop)
        app.router.add_get("/to-page", self.to_page)
        return app

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def latin1(self, request: web.Request) -> web.Response:
        body = "<p>Crème brûlée à la française</p>".encode("latin-1")
        return web.Response(body=body, headers={"Content-Type": "text/html; charset=ISO-8859-1"})

    async def pdf(self, request: web.Request) -> web.Response:
        pdf = text_pdf([["A guide to sleeping well, with a routine for every evening."] * 3])
        return web.Response(body=pdf, content_type="application/pdf")

    async def missing(self, request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def private(self, request: web.Request) -> web.Response:
        raise web.HTTPForbidden()

    async def broken(self, request: web.Request) -> web.Response:
        raise web.HTTPServiceUnavailable()

    async def busy(self, request: web.Request) -> web.Response:
        raise web.HTTPTooManyRequests()

    async def image(self, request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png")

    async def binary(self, request: web.Request) -> web.Response:
        return web.Response(body=PAGE.encode(), content_type="application/octet-stream")

    async def endless(self, request: web.Request) -> web.StreamResponse:
        """A chunked answer without a length that would go on for 64 MB."""
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        chunk = b"breathe " * 8192
        try:
            while self.sent < STREAM_CAP:
                await response.write(chunk)
                self.sent += len(chunk)
        except ConnectionError:
            pass  # the client hung up: what the test hopes for
        finally:
            self.stream_done.set()
        return response

    async def declared_big(self, request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 300_000, content_type="text/plain")

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.wait_for(self.release.wait(), timeout=10)
        return web.Response(text=PAGE, content_type="text/html")

    async def loop(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def to_page(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/page")


@pytest.fixture
async def site(aiohttp_server: AiohttpServer) -> AsyncIterator[tuple[Site, str]]:
    """The site, running, and its base URL; the slow handler is released at the end."""
    served = Site()
    server = await aiohttp_server(served.app())
    try:
        yield served, str(server.make_url("/")).rstrip("/")
    finally:
        served.release.set()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_an_html_page_is_loaded(
    site: tuple[Site, str], session: aiohttp.ClientSession
) -> None:
    _, base = site
    steps: list[Progress] = []
    document = await load_url(f"{base}/to-page", session=session, progress=steps.append)
    assert document.title == "Calm Studio"
    assert document.source == f"{base}/to-page"
    assert document.blocks == (
        Block(BlockKind.HEADING, "Welcome", level=1),
        Block(BlockKind.PARAGRAPH, "Breathe in, breathe out."),
    )
    assert steps[0].message.startswith("Downloading 127.0.0.1")
    assert steps[-1].message == f"Read {base}/to-page"


async def test_the_http_charset_is_used(
    site: tuple[Site, str], session: aiohttp.ClientSession
) -> None:
    _, base = site
    document = await load_url(f"{base}/latin1", session=session)
    assert document.blocks[0].text == "Crème brûlée à la française"


async def test_a_pdf_is_loaded_with_its_pages(
    site: tuple[Site, str], session: aiohttp.ClientSession
) -> None:
    _, base = site
    document = await load_url(f"{base}/guide.pdf", session=session)
    assert document.mime_type == "application/pdf"
    assert document.title == "guide"
    assert document.blocks[0].page == 1


@pytest.mark.parametrize(
    ("path", "answered"), [("/missing", "404 Not Found"), ("/private", "403 Forbidden")]
)
async def test_an_address_the_server_refuses_is_refused(
    site: tuple[Site, str], session: aiohttp.ClientSession, path: str, answered: str
) -> None:
    _, base = site
    with pytest.raises(AddressRefused, match=f"the server answered {answered}"):
        await load_url(base + path, session=session)


@pytest.mark.parametrize(
    ("path", "answered"),
    [("/broken", "503 Service Unavailable"), ("/busy", "429 Too Many Requests")],
)
async def test_a_server_error_or_a_busy_server_is_a_failure_that_may_pass(
    site: tuple[Site, str], session: aiohttp.ClientSession, path: str, answered: str
) -> None:
    _, base = site
    with pytest.raises(FetchFailed, match=f"the server answered {answered}") as failed:
        await load_url(base + path, session=session)
    assert not isinstance(failed.value, AddressRefused)


@pytest.mark.parametrize(
    ("path", "mime"), [("/image", "image/png"), ("/binary", "application/octet-stream")]
)
async def test_a_wrong_content_type_is_refused(
    site: tuple[Site, str], session: aiohttp.ClientSession, path: str, mime: str
) -> None:
    _, base = site
    with pytest.raises(UnsupportedDocument, match=f"{mime} files are not supported"):
        await load_url(base + path, session=session)


async def test_an_endless_body_is_abandoned_past_the_limit(
    site: tuple[Site, str], session: aiohttp.ClientSession
) -> None:
    served, base = site
    with pytest.raises(DocumentTooLarge, match="the download is over the limit of 256 KB"):
        await load_url(f"{base}/endless", session=session, limits=Limits(max_bytes=256 * 1024))
    await asyncio.wait_for(served.stream_done.wait(), timeout=10)
    assert served.sent < STREAM_CAP // 4  # the client hung up long before the end


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    site: tuple[Site, str], session: aiohttp.ClientSession
) -> None:
    _, base = site
    with pytest.raises(DocumentTooLarge, match=r"the download \(293 KB\)"):
        await load_url(f"{base}/declared-big", session=session, limits=Limits(max_bytes=100_000))


async def test_a_slow_server_times_out(
    site: tuple[Site, str], session: aiohttp.ClientSession
) -> None:
    _, base = site
    with pytest.raises(FetchFailed, match=r"did not send the whole answer within 0.3 s") as slow:
        await load_url(f"{base}/slow", session=session, limits=Limits(fetch_timeout=0.3))
    assert not isinstance(slow.value, AddressRefused)


async def test_a_redirect_loop_stops(
    site: tuple[Site, str], session: aiohttp.ClientSession
) -> None:
    _, base = site
    with pytest.raises(AddressRefused, match="redirects more than 3 times"):
        await load_url(f"{base}/loop", session=session, limits=Limits(max_redirects=3))


async def test_a_closed_port_is_a_connection_failure(session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(
        FetchFailed, match=r"could not connect to 127\.0\.0\.1 \(.*refused\)"
    ) as down:
        await load_url(f"http://127.0.0.1:{port}/page", session=session)
    assert not isinstance(down.value, AddressRefused)  # the server may be back later


async def test_an_unknown_host_is_a_dns_failure(session: aiohttp.ClientSession) -> None:
    # .invalid never resolves (RFC 6761)
    with pytest.raises(AddressRefused, match=r"host name nowhere\.invalid could not be found"):
        await load_url(
            "http://nowhere.invalid/guide", session=session, limits=Limits(fetch_timeout=5)
        )


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.pdf", "http:///nohost"])
async def test_only_http_addresses_with_a_host_are_fetched(
    url: str, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(AddressRefused, match=r"only http|no host name"):
        await load_url(url, session=session)
