"""Fetching creators' URLs without reaching into our own network (SSRF protection).

A creator can ask the server to fetch any address. Without care that includes
``http://127.0.0.1:…``, the cloud metadata service or machines on the private network.
The session from :func:`public_session` refuses every address that is not globally
routable: host names are checked after DNS resolution (so a public name that resolves
to a private address is refused too), and literal addresses, which skip resolution, are
checked on the first request and on every redirect.
"""

from __future__ import annotations

import ipaddress
import socket
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from knowledge.errors import AddressRefused


class PrivateAddress(OSError):
    """Raised by the resolver when a name only leads to non-public addresses."""


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable (not loopback, private, link-local...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PublicAddressesOnly(AbstractResolver):
    """A resolver that drops every non-public address a name resolves to."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        public = [r for r in results if is_public(r["host"])]
        if not public:
            raise PrivateAddress(f"{host} points to a private or local address")
        return public

    async def close(self) -> None:
        await self._inner.close()


def _check_literal(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return  # a name: the resolver checks what it resolves to
    if not is_public(host):
        raise AddressRefused(url, "it points to a private or local address")


async def _on_start(_: Any, __: SimpleNamespace, params: Any) -> None:
    _check_literal(str(params.url))


async def _on_redirect(_: Any, __: SimpleNamespace, params: Any) -> None:
    location = params.response.headers.get(aiohttp.hdrs.LOCATION, "")
    _check_literal(str(params.url.join(URL(location))))


def public_session() -> aiohttp.ClientSession:
    """A client session that only ever connects to public addresses."""
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(_on_start)
    trace.on_request_redirect.append(_on_redirect)
    connector = aiohttp.TCPConnector(resolver=PublicAddressesOnly())
    return aiohttp.ClientSession(connector=connector, trace_configs=[trace])
