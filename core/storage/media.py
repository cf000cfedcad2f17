"""Generated files (audio, scripts, charts, data exports) on disk, and expiring signed links
to them.

A stored file has a random name such as ``3f9c….ogg``; a message refers to it as
``media:3f9c….ogg``. Channels that send a URL (WhatsApp, the widget) get a link
``/media/{name}.{expires}.{signature}.{ext}``: the signature is an HMAC of the name and
the expiry time, so a link cannot be forged, altered or used after it expires. The
route serves the file with its content type and HTTP Range support (seeking in a player).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from aiohttp import web

from bots.profile import slugify
from core.messages import Audio, AudioFormat, Media

log = logging.getLogger("chorus.media")

SCHEME = "media:"
_NAME = re.compile(r"^[0-9a-f]{32}\.(ogg|mp3|txt|png|json)$")
_MIME = {f.extension: f.mime_type for f in AudioFormat} | {
    "txt": "text/plain; charset=utf-8",
    "png": "image/png",
    "json": "application/json",
}
DEFAULT_TTL = 7 * 24 * 3600


class MediaStore:
    """Keeps generated files under ``root`` and signs links to them.

    ``secret`` signs links; without one, a random secret is created once and kept in
    ``root/.secret``, so links survive restarts and every process sharing the data
    directory accepts them.
    """

    def __init__(
        self,
        root: Path,
        *,
        secret: bytes | None = None,
        ttl_seconds: int = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.root = root
        self._secret = secret
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    async def save(self, audio: Audio, *, stem: str | None = None) -> str:
        """Store ``audio`` and return its reference (``media:<name>``). Files saved with
        the same ``stem`` are versions of one recording in different formats."""
        stem = stem or secrets.token_hex(16)
        name = f"{stem}.{audio.format.extension}"
        if not _NAME.match(name):
            raise ValueError(f"not a media name: {name!r}")
        await asyncio.to_thread(self._write, name, audio.data)
        return SCHEME + name

    async def save_text(self, text: str, *, key: str, title: str, extension: str = "txt") -> Media:
        """Keep ``text`` as a downloadable file (``.txt``, or ``.json`` for data); the same
        ``key`` always names the same file, so saving it again rewrites one file instead
        of piling up copies."""
        reference = self.keyed(key, extension)
        data = text.encode("utf-8")
        await asyncio.to_thread(self._write, reference.removeprefix(SCHEME), data)
        return Media(
            reference=reference,
            mime_type=_MIME[extension],
            filename=slugify(title, limit=60, default="script") + f".{extension}",
            size=len(data),
        )

    def keyed(self, key: str, extension: str = "txt") -> str:
        """The reference of the file :meth:`save_text` keeps under ``key``."""
        name = f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.{extension}"
        if not _NAME.match(name):
            raise ValueError(f"not a media extension: {extension!r}")
        return SCHEME + name

    async def delete(self, references: Iterable[str]) -> int:
        """Remove the files behind ``references`` (those that are ours), each with every
        other version kept under its name (a recording is saved as OGG/Opus and MP3, and
        a message refers to one of them) and any copy left half written; returns how
        many files were removed."""
        stems = {
            name.rsplit(".", 1)[0]
            for reference in references
            if reference.startswith(SCHEME) and _NAME.match(name := reference.removeprefix(SCHEME))
        }
        return await asyncio.to_thread(self._remove_versions, stems)

    def _remove_versions(self, stems: Iterable[str]) -> int:
        # a stem is 32 hex digits (checked by _NAME), so it is safe in a glob pattern
        paths = [
            path
            for stem in stems
            for pattern in (f"{stem}.*", f".{stem}.*.part")
            for path in self.root.glob(pattern)
        ]
        return _unlink(paths)

    async def save_png(self, data: bytes, *, key: str, filename: str) -> Media:
        """Keep a PNG image (a chart); the same ``key`` always names the same file, so a
        chart drawn again replaces the one before."""
        stem = hashlib.sha256(key.encode()).hexdigest()[:32]
        await asyncio.to_thread(self._write, f"{stem}.png", data)
        return Media(
            reference=f"{SCHEME}{stem}.png",
            mime_type=_MIME["png"],
            filename=filename,
            size=len(data),
        )

    def path(self, reference: str) -> Path | None:
        """The file behind a reference, or None if it is not one of ours or is gone."""
        name = reference.removeprefix(SCHEME)
        if not reference.startswith(SCHEME) or not _NAME.match(name):
            return None
        path = self.root / name
        return path if path.is_file() else None

    def variant(self, reference: str, audio_format: AudioFormat) -> str:
        """The reference of the same recording in another format."""
        stem = reference.removeprefix(SCHEME).rsplit(".", 1)[0]
        return f"{SCHEME}{stem}.{audio_format.extension}"

    def link(self, reference: str, base_url: str = "", ttl_seconds: int | None = None) -> str:
        """A signed, expiring URL path (prefixed with ``base_url``) for a reference."""
        name = reference.removeprefix(SCHEME)
        if not _NAME.match(name):
            raise ValueError(f"not a media reference: {reference!r}")
        stem, extension = name.rsplit(".", 1)
        expires = int(self._clock()) + (ttl_seconds or self.ttl_seconds)
        signature = self._sign(f"{name}.{expires}")
        return f"{base_url.rstrip('/')}/media/{stem}.{expires}.{signature}.{extension}"

    def resolve(self, signed_id: str) -> Path:
        """The file a signed id grants, or an HTTP error: 404 malformed or missing,
        403 bad signature, 410 expired."""
        parts = signed_id.split(".")
        if len(parts) != 4 or not parts[1].isdigit():
            raise web.HTTPNotFound(text="no such media")
        stem, expires, signature, extension = parts
        name = f"{stem}.{extension}"
        if not _NAME.match(name):
            raise web.HTTPNotFound(text="no such media")
        if not hmac.compare_digest(signature, self._sign(f"{name}.{expires}")):
            raise web.HTTPForbidden(text="invalid media link")
        if int(expires) < self._clock():
            raise web.HTTPGone(text="this media link has expired")
        path = self.root / name
        if not path.is_file():
            raise web.HTTPNotFound(text="no such media")
        return path

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /media/{signed_id}``: the file, with Range support (FileResponse)."""
        path = self.resolve(request.match_info["signed_id"])
        return web.FileResponse(
            path,
            headers={
                "Content-Type": _MIME[path.suffix.lstrip(".")],
                "Cache-Control": "private, max-age=3600",
                "X-Content-Type-Options": "nosniff",
            },
        )

    def derive_key(self, purpose: str) -> bytes:
        """A key for another signature (widget sessions), derived from the media key."""
        return hmac.new(self._key(), f"chorus {purpose}".encode(), hashlib.sha256).digest()

    def _sign(self, message: str) -> str:
        digest = hmac.new(self._key(), message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def _key(self) -> bytes:
        if self._secret is None:
            self._secret = self._stored_secret()
        return self._secret

    def _stored_secret(self) -> bytes:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / ".secret"
        if not path.exists():
            # written aside and linked into place: a process never reads a half-written key
            temporary = self.root / f".secret.{secrets.token_hex(8)}"
            temporary.write_bytes(secrets.token_bytes(32))
            temporary.chmod(0o600)
            try:
                os.link(temporary, path)
                log.info("created a media signing key in %s", path)
            except FileExistsError:
                pass  # another process won the race; use its key
            finally:
                temporary.unlink()
        return path.read_bytes()

    def _write(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f".{name}.part"
        temporary.write_bytes(data)
        temporary.replace(self.root / name)


def _unlink(paths: Iterable[Path]) -> int:
    removed = 0
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue  # removed meanwhile: gone either way
        removed += 1
    return removed
