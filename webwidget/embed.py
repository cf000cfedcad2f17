"""The embed code a creator pastes into their website to add their agent's chat bubble,
and the website origins it may appear on."""

from __future__ import annotations

import html
from urllib.parse import urlsplit


def embed_snippet(public_base_url: str, bot_id: str) -> str:
    """One ``<script>`` tag that loads the widget for ``bot_id`` from this server."""
    src = html.escape(f"{public_base_url.rstrip('/')}/widget.js", quote=True)
    return f'<script src="{src}" data-bot="{html.escape(bot_id, quote=True)}" async></script>'


def normalise_origin(value: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) origin, lower-cased; None if it is not one."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}"
