"""The embed code a creator pastes into their website to add their agent's chat bubble,
the address it loads the widget from, and the website origins it may appear on."""

from __future__ import annotations

import html
import ipaddress
import re
from urllib.parse import urlsplit

_HOST_NAME = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*\.?", re.I)


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


def served_base_url(host: str, port: int) -> str | None:
    """The address a browser on this machine reaches ``chorus serve --host H --port P``
    at (plain HTTP, as it serves); None if ``host`` is not a host name or IP address or
    ``port`` is not a port."""
    host = host.strip()
    if not 0 < port < 65536:
        return None
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if not host or (address is not None and address.is_unspecified):
        name = "localhost"  # it listens everywhere: a browser here reaches it as localhost
    elif address is not None:
        name = f"[{address}]" if address.version == 6 else str(address)
    elif _HOST_NAME.fullmatch(host):
        name = host.lower()
    else:
        return None
    return f"http://{name}" if port == 80 else f"http://{name}:{port}"


def checked_base_url(value: str) -> str | None:
    """An http(s) address a server can be reached at (an optional path prefix, no
    credentials, query or fragment), without its trailing slash; None if it is not one."""
    parts = urlsplit(value.strip())
    if normalise_origin(value) is None or parts.query or parts.fragment:
        return None
    return value.strip().rstrip("/")
