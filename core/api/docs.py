"""``/docs``: the API's interactive reference, Swagger UI rendering ``/openapi.json``.

Swagger UI's files come from the ``swagger-ui-py`` package (its ``static`` folder, read
with importlib.resources) and are served from here under ``/docs/static/``: the page
loads nothing from elsewhere, so it works offline and behind a firewall, and its
Content-Security-Policy says so. Only the files the page uses are served.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
from importlib.resources import files

from aiohttp import web

STATIC = "/docs/static/"
#: Swagger UI's files the page needs, as the package names them
ASSETS = ("swagger-ui.css", "index.css", "swagger-ui-bundle.js")
PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chorus API</title>
<link rel="icon" href="/favicon.ico">
<link rel="stylesheet" href="{STATIC}swagger-ui.css">
<link rel="stylesheet" href="{STATIC}index.css">
</head>
<body>
<noscript>The reference needs JavaScript; the machine-readable description is
<a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</noscript>
<div id="swagger-ui"></div>
<script src="{STATIC}swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""
# validatorUrl null: Swagger UI would otherwise send the document to swagger.io to get
# a badge; models are shown as schemas (not example values) and left to expand
INIT = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: true,
  validatorUrl: null,
  defaultModelRendering: "model",
  defaultModelExpandDepth: 2,
  displayRequestDuration: true,
});
"""
# Swagger UI sets inline styles and shows data: images; everything else is our own
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff"}


class SwaggerUi:
    """Swagger UI's files, read from the installed package at the first request."""

    def __init__(self) -> None:
        self._assets: dict[str, tuple[bytes, str]] | None = None
        self._loading = asyncio.Lock()

    async def asset(self, name: str) -> tuple[bytes, str] | None:
        """A file's bytes and ETag, or None when the page does not use it."""
        if name not in ASSETS:
            return None
        async with self._loading:
            if self._assets is None:
                self._assets = await asyncio.to_thread(_read_assets)
        return self._assets[name]


def _read_assets() -> dict[str, tuple[bytes, str]]:
    folder = files("swagger_ui") / "static"
    assets = {}
    for name in ASSETS:
        data = (folder / name).read_bytes()
        assets[name] = (data, '"' + hashlib.sha256(data).hexdigest()[:16] + '"')
    return assets


DOCS = web.AppKey("docs", SwaggerUi)


async def page(_request: web.Request) -> web.Response:
    """``GET /docs``: the reference page."""
    return web.Response(text=PAGE, content_type="text/html", headers=_HEADERS)


async def init(_request: web.Request) -> web.Response:
    """``GET /docs/init.js``: starts Swagger UI on ``/openapi.json``."""
    return web.Response(text=INIT, content_type="application/javascript", headers=_HEADERS)


async def asset(request: web.Request) -> web.Response:
    """``GET /docs/static/{name}``: one of Swagger UI's files, cached by the browser."""
    name = request.match_info["name"]
    found = await request.app[DOCS].asset(name)
    if found is None:
        raise web.HTTPNotFound(text=f"no such file: {name[:100]}")
    data, etag = found
    headers = {**_HEADERS, "ETag": etag, "Cache-Control": "public, max-age=3600"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = web.Response(body=data, content_type=kind, charset="utf-8", headers=headers)
    response.enable_compression()  # the bundle is 1.4 MB, a third of it gzipped
    return response


def install(app: web.Application) -> None:
    """``/docs``, its script and Swagger UI's files on ``app``."""
    app[DOCS] = SwaggerUi()
    app.router.add_get("/docs", page)
    app.router.add_get("/docs/init.js", init)
    app.router.add_get(STATIC + "{name}", asset)
