"""Signed, expiring media links and their route: content types, Range requests, tampering."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from core.messages import Audio, AudioFormat
from core.storage.media import MediaStore
from tests.clock import Clock

Client = TestClient[web.Request, web.Application]
PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes with a recognisable pattern


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> MediaStore:
    return MediaStore(tmp_path / "media", ttl_seconds=3600, clock=clock)


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, store: MediaStore) -> Client:
    app = web.Application()
    app.router.add_get("/media/{signed_id}", store.handle)
    return await aiohttp_client(app)


async def saved(store: MediaStore, audio_format: AudioFormat = AudioFormat.OGG_OPUS) -> str:
    return await store.save(Audio(PAYLOAD, audio_format, 6.0))


async def test_a_signed_link_serves_the_file_with_its_type(
    client: Client, store: MediaStore
) -> None:
    for audio_format in AudioFormat:
        reference = await saved(store, audio_format)
        link = store.link(reference)
        assert link.endswith(f".{audio_format.extension}")
        response = await client.get(link)
        assert response.status == 200
        assert response.headers["Content-Type"] == audio_format.mime_type
        assert response.headers["Accept-Ranges"] == "bytes"
        assert await response.read() == PAYLOAD


async def test_range_requests_return_the_right_bytes(client: Client, store: MediaStore) -> None:
    link = store.link(await saved(store))
    response = await client.get(link, headers={"Range": "bytes=1000-1999"})
    assert response.status == 206
    assert response.headers["Content-Range"] == f"bytes 1000-1999/{len(PAYLOAD)}"
    assert await response.read() == PAYLOAD[1000:2000]
    tail = await client.get(link, headers={"Range": "bytes=-100"})
    assert tail.status == 206
    assert await tail.read() == PAYLOAD[-100:]
    beyond = await client.get(link, headers={"Range": f"bytes={len(PAYLOAD) + 10}-"})
    assert beyond.status == 416


async def test_links_expire(client: Client, store: MediaStore, clock: Clock) -> None:
    link = store.link(await saved(store))
    clock.now += 3599
    assert (await client.get(link)).status == 200
    clock.now += 2
    response = await client.get(link)
    assert response.status == 410
    assert "expired" in await response.text()


async def test_tampered_links_are_refused(client: Client, store: MediaStore) -> None:
    link = store.link(await saved(store))
    name, expires, signature, extension = link.rsplit("/", 1)[1].split(".")
    later = str(int(expires) + 10**6)
    forged_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    other_name = ("0" if name[0] != "0" else "1") + name[1:]
    for forged in (
        f"/media/{name}.{later}.{signature}.{extension}",  # a longer life
        f"/media/{name}.{expires}.{forged_signature}.{extension}",
        f"/media/{other_name}.{expires}.{signature}.{extension}",  # another file
        f"/media/{name}.{expires}.{signature}.mp3",  # another format of it
    ):
        assert (await client.get(forged)).status == 403, forged


@pytest.mark.parametrize(
    "signed_id",
    [
        "nothing",
        "..%2F..%2Fetc%2Fpasswd",
        "a.b.c.d",
        "0123456789abcdef0123456789abcdef.notanumber.sig.ogg",
        "0123456789abcdef0123456789abcdef.1800000000.sig.exe",
        "0123456789abcdef0123456789abcdef.1800000000.sig.ogg.ogg",
    ],
)
async def test_malformed_ids_are_not_found(client: Client, signed_id: str) -> None:
    response = await client.get(f"/media/{signed_id}")
    assert response.status == 404


async def test_a_deleted_file_is_gone(client: Client, store: MediaStore) -> None:
    reference = await saved(store)
    link = store.link(reference)
    path = store.path(reference)
    assert path is not None
    path.unlink()
    assert (await client.get(link)).status == 404
    assert store.path(reference) is None


async def test_the_generated_key_is_kept_for_other_processes(tmp_path: Path, clock: Clock) -> None:
    first = MediaStore(tmp_path / "media", clock=clock)
    reference = await saved(first)
    link = first.link(reference)
    second = MediaStore(tmp_path / "media", clock=clock)
    assert second.resolve(link.rsplit("/", 1)[1]) == first.path(reference)
    other = MediaStore(tmp_path / "media", secret=b"another key", clock=clock)
    with pytest.raises(web.HTTPForbidden):
        other.resolve(link.rsplit("/", 1)[1])


async def test_text_exports_keep_one_file_per_key(store: MediaStore) -> None:
    first = await store.save_text("Script one", key="content-1", title="Evening: calm!")
    again = await store.save_text("Script one, revised", key="content-1", title="Evening: calm!")
    assert first.reference == again.reference
    assert first.filename == "evening-calm.txt"
    path = store.path(again.reference)
    assert path is not None
    assert path.read_text() == "Script one, revised"
    assert len(list(store.root.glob("*.txt"))) == 1
