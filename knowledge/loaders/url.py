"""Loading a document from a web address, within the limits, with aiohttp.

Only ``http`` and ``https`` are fetched. The whole exchange has one time limit and a
maximum number of redirects; the content type is checked before the body is read, and
the body is read in pieces and abandoned as soon as it passes the size limit, so a huge
or endless answer costs at most ``max_bytes``. Every failure is a ``FetchFailed`` (or a
size or type error) whose message says what went wrong in plain words; an
``AddressRefused`` when the address itself is at fault (trying again will not help).
"""

from __future__ import annotations

import asyncio
import errno
import socket
from urllib.parse import urlsplit

import aiohttp

from knowledge.documents import Limits, LoadedDocument, Progress, ProgressCallback, no_progress
from knowledge.errors import AddressRefused, DocumentTooLarge, FetchFailed, UnsupportedDocument
from knowledge.loaders.detect import DocumentKind
from knowledge.loaders.load import load_bytes, on_loop
from knowledge.loaders.sizes import size_text
from knowledge.netguard import PrivateAddress

# images are read (with OCR) when a creator sends them, not fetched from the web
ACCEPTED_TYPES = frozenset(
    {kind.value for kind in DocumentKind if not kind.is_image}
    | {"application/xhtml+xml", "text/x-markdown"}
)
_ACCEPT = ", ".join(sorted(ACCEPTED_TYPES)) + ";q=0.9, */*;q=0.1"
_CHUNK = 64 * 1024
# client errors that pass: the server was too busy or too slow for us, not refusing us
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


async def load_url(
    url: str,
    *,
    session: aiohttp.ClientSession,
    limits: Limits = Limits(),  # noqa: B008 - frozen, so one shared default is safe
    progress: ProgressCallback = no_progress,
) -> LoadedDocument:
    """Download ``url`` with ``session`` and read it; parsing runs in a worker thread.

    ``progress`` is called on the event loop's thread.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise AddressRefused(url, "only http:// and https:// addresses can be fetched")
    if not parts.hostname:
        raise AddressRefused(url, "the address has no host name")
    progress(Progress("reading", 0, None, f"Downloading {parts.hostname}…"))
    data, content_type = await _download(url, session, limits)
    progress(Progress("reading", 0, None, f"Downloaded {size_text(len(data))}"))
    return await asyncio.to_thread(
        load_bytes, data, url, mime_type=content_type, limits=limits, progress=on_loop(progress)
    )


async def _download(
    url: str, session: aiohttp.ClientSession, limits: Limits
) -> tuple[bytes, str | None]:
    """The body and Content-Type of ``url``, or a clear error."""
    host = urlsplit(url).hostname
    timeout = aiohttp.ClientTimeout(total=limits.fetch_timeout)
    try:
        async with session.get(
            url,
            timeout=timeout,
            max_redirects=limits.max_redirects,
            headers={"Accept": _ACCEPT},
        ) as response:
            if response.status >= 400:
                reason = f" {response.reason}" if response.reason else ""
                answered = f"the server answered {response.status}{reason}"
                if response.status < 500 and response.status not in _TRANSIENT_STATUSES:
                    raise AddressRefused(url, answered)
                raise FetchFailed(url, answered)
            content_type = response.headers.get(aiohttp.hdrs.CONTENT_TYPE)
            if content_type is not None and response.content_type not in ACCEPTED_TYPES:
                raise UnsupportedDocument(url, response.content_type)
            return await _read_body(url, response, limits), content_type
    except aiohttp.TooManyRedirects as exc:
        raise AddressRefused(
            url, f"it redirects more than {limits.max_redirects} times (a redirect loop?)"
        ) from exc
    except aiohttp.InvalidUrlRedirectClientError as exc:
        raise AddressRefused(url, "it redirects to an address that cannot be fetched") from exc
    except aiohttp.InvalidURL as exc:
        raise AddressRefused(url, "it is not a valid web address") from exc
    except aiohttp.ClientConnectorDNSError as exc:
        if isinstance(exc.os_error, PrivateAddress):
            raise AddressRefused(url, "it points to a private or local address") from exc
        if exc.os_error.errno == socket.EAI_AGAIN:  # the name server did not answer
            raise FetchFailed(url, f"the host name {host} could not be looked up") from exc
        raise AddressRefused(url, f"the host name {host} could not be found") from exc
    except aiohttp.ClientConnectorCertificateError as exc:
        raise AddressRefused(url, f"the TLS certificate of {host} is not valid") from exc
    except aiohttp.ClientConnectorError as exc:
        refused = exc.os_error.errno == errno.ECONNREFUSED
        why = "the connection was refused" if refused else exc.strerror
        raise FetchFailed(url, f"could not connect to {host} ({why})") from exc
    except TimeoutError as exc:
        raise FetchFailed(
            url, f"the server did not send the whole answer within {limits.fetch_timeout:g} s"
        ) from exc
    except aiohttp.ClientPayloadError as exc:
        raise FetchFailed(url, "the connection broke off during the download") from exc
    except aiohttp.ClientError as exc:
        raise FetchFailed(url, f"the download failed ({type(exc).__name__})") from exc


async def _read_body(url: str, response: aiohttp.ClientResponse, limits: Limits) -> bytes:
    """The body, read in pieces; stops (and drops the connection) past ``max_bytes``."""
    limit = size_text(limits.max_bytes)
    declared = response.content_length
    if declared is not None and declared > limits.max_bytes:
        response.close()
        raise DocumentTooLarge(url, f"the download ({size_text(declared)})", limit)
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > limits.max_bytes:
            response.close()
            raise DocumentTooLarge(url, "the download", limit)
    return bytes(body)
