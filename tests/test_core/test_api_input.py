"""Hostile input to the REST API on a running app (SQLite and PostgreSQL): bodies that
are not multipart or JSON, of the wrong shape or too large, text no database can store,
and headers that are not text. Each is an RFC 7807 problem, never a server error, and a
refused upload leaves nothing behind."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

from core.api.common import encode_cursor
from core.settings import Settings
from core.storage.models import utcnow
from tests.api import bearer, problem, register
from tests.test_channels.telegram_app import Client
from tests.test_core.test_api_resources import creator_with_bot

FILE_PART = (
    b"--b0undary\r\n"
    b'Content-Disposition: form-data; name="file"; filename="tea.md"\r\n'
    b"Content-Type: text/markdown\r\n\r\n"
    b"Brew oolong at 90 degrees."
)
END = b"\r\n--b0undary--\r\n"
MULTIPART = "multipart/form-data; boundary=b0undary"


async def post(api: Client, url: str, body: bytes, kind: str, **headers: str) -> Any:
    return await api.post(url, data=body, headers={"Content-Type": kind, **headers})


async def test_malformed_multipart_uploads_are_400_problems_and_leave_nothing(
    api: Client, settings: Settings
) -> None:
    auth, bot = await creator_with_bot(api)
    url = f"/api/v1/bots/{bot}/documents"
    malformed = {
        # the body ends inside the file: what arrived is not the document
        "truncated in the file": (FILE_PART, MULTIPART),
        "no closing boundary": (FILE_PART + b"\r\n--b0undary", MULTIPART),
        "another boundary": (FILE_PART + END, "multipart/form-data; boundary=other"),
        "no boundary": (FILE_PART + END, "multipart/form-data"),
        "a header line without a colon": (
            b"--b0undary\r\nnot a header\r\n\r\nx" + END,
            MULTIPART,
        ),
        "a part header too long": (
            b"--b0undary\r\nX-Note: " + b"a" * 9000 + b"\r\n\r\nx" + END,
            MULTIPART,
        ),
        "a bad _charset_ field": (
            b'--b0undary\r\nContent-Disposition: form-data; name="_charset_"\r\n\r\n\xff\xfe'
            + b"\r\n"
            + FILE_PART
            + END,
            MULTIPART,
        ),
        "a nested multipart cut short": (
            FILE_PART
            + b"\r\n--b0undary\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n--x\r\n",
            MULTIPART,
        ),
    }
    for case, (body, kind) in malformed.items():
        refused = await post(api, url, body, kind, **auth)
        detail = (await problem(refused, 400))["detail"]
        assert "malformed" in detail, case

    # a request body in a Content-Encoding it is not in
    garbled = await post(api, url, b"not gzip", MULTIPART, **auth, **{"Content-Encoding": "gzip"})
    assert "content-encoding" in (await problem(garbled, 400))["detail"]
    # the same, well-formed, is fine
    fine = await post(api, url, gzip.compress(FILE_PART + END), MULTIPART, **auth, **{
        "Content-Encoding": "gzip"
    })  # fmt: skip
    assert fine.status == 202, await fine.text()

    # well-formed, but not what this operation reads
    no_file = b'--b0undary\r\nContent-Disposition: form-data; name="other"\r\n\r\nx' + END
    await problem(await post(api, url, no_file, MULTIPART, **auth), 422)
    encoded = FILE_PART.replace(
        b"Content-Type: text/markdown", b"Content-Transfer-Encoding: base64"
    )
    refused = await post(api, url, encoded + END, MULTIPART, **auth)
    assert "encoded" in (await problem(refused, 415))["detail"]

    jobs = await (await api.get(f"/api/v1/bots/{bot}/document-jobs", headers=auth)).json()
    assert [job["id"] for job in jobs] == [(await fine.json())["id"]]
    uploads = settings.data_dir / "uploads"
    kept = {path.name for path in uploads.iterdir()} if uploads.exists() else set()
    assert kept <= {(await fine.json())["id"]}


async def test_a_body_that_is_not_json_is_a_400_problem_and_a_wrong_shape_422(
    api: Client,
) -> None:
    auth = bearer((await register(api))["access_token"])
    unreadable = {
        "not UTF-8": b'{"name": "caf\xe9"}',
        "UTF-16": '{"name": "Tea"}'.encode("utf-16"),
        "a syntax error": b'{"name": "Tea",}',
        "cut short": b'{"name": "Te',
        "a lone surrogate": b'{"name": "\\ud800"}',
    }
    for case, body in unreadable.items():
        refused = await post(api, "/api/v1/bots", body, "application/json", **auth)
        assert "not JSON" in (await problem(refused, 400))["detail"], case
    garbled = await post(
        api, "/api/v1/bots", b"\x1f\x8bnot", "application/json", **auth, **{
            "Content-Encoding": "gzip"
        }
    )  # fmt: skip
    assert "cannot be read" in (await problem(garbled, 400))["detail"]

    wrong = {
        "a list": (b'[{"name": "Tea"}]', []),
        "a string": (b'"Tea"', []),
        "null": (b"null", []),
        "a number for a name": (b'{"name": 7}', ["name"]),
        "an unknown field": (b'{"name": "Tea", "owner": 1}', ["owner"]),
    }
    for case, (body, where) in wrong.items():
        refused = await post(api, "/api/v1/bots", body, "application/json", **auth)
        assert (await problem(refused, 422))["errors"][0]["loc"] == where, case
    auth, bot = await creator_with_bot(api)
    nested = await api.put(
        f"/api/v1/bots/{bot}/pricing",
        json={"packs": [{"id": "a", "credits": "many", "price": 100}]},
        headers=auth,
    )
    assert (await problem(nested, 422))["errors"][0]["loc"] == ["packs", 0, "credits"]
    # JSON has its own types: true or "5" is no integer, "false" no boolean
    grants = f"/api/v1/bots/{bot}/users/1/credits/grants"
    for credits in (True, "5", 5.5):
        refused = await api.post(grants, json={"credits": credits}, headers=auth)
        assert (await problem(refused, 422))["errors"][0]["loc"] == ["credits"], credits
    paused = await api.patch("/api/v1/webhooks/we_x", json={"active": "false"}, headers=auth)
    assert (await problem(paused, 422))["errors"][0]["loc"] == ["active"]


async def test_bodies_over_the_limits_are_413_problems(api: Client) -> None:
    auth = bearer((await register(api))["access_token"])
    announced = await post(api, "/api/v1/bots", b"{}" + b" " * 70_000, "application/json", **auth)
    assert "64 KB" in (await problem(announced, 413))["detail"]

    async def chunks() -> Any:  # no Content-Length: the server counts as it reads
        for _ in range(40):
            yield b" " * 64 * 1024

    streamed = await api.post(
        "/api/v1/bots", data=chunks(), headers={"Content-Type": "application/json", **auth}
    )
    await problem(streamed, 413)
    # a deflated body that inflates past the limit
    bomb = gzip.compress(json.dumps({"name": "a" * 3_000_000}).encode())
    inflated = await post(
        api, "/api/v1/bots", bomb, "application/json", **auth, **{"Content-Encoding": "gzip"}
    )
    await problem(inflated, 413)


async def test_text_no_database_can_store_is_refused_where_it_comes_in(api: Client) -> None:
    auth, bot = await creator_with_bot(api)
    nul = await api.post("/api/v1/bots", json={"name": "Tea\x00"}, headers=auth)
    body = await problem(nul, 422)
    assert body["errors"] == [
        {"loc": ["name"], "msg": "text may not contain NUL characters", "type": "string_nul"}
    ]
    key = await api.put(f"/api/v1/bots/{bot}/pricing", json={"costs": {"a\x00": 1}}, headers=auth)
    assert (await problem(key, 422))["errors"][0]["loc"] == ["costs", "a\x00"]
    login = await api.post("/api/v1/auth/login", json={"email": "a\x00@b.co", "password": "x"})
    await problem(login, 422)
    query = await api.get(
        f"/api/v1/bots/{bot}/conversations", params={"state": "chat\x00"}, headers=auth
    )
    assert (await problem(query, 422))["errors"][0]["loc"] == ["query", "state"]
    for path in (f"/api/v1/bots/{bot}%00", "/api/v1/webhooks/we%00", "/api/v1/api-keys/%00"):
        method = api.delete if "api-keys" in path else api.get
        await problem(await method(path, headers=auth), 404)
    # nothing was stored
    bots = await (await api.get("/api/v1/bots", headers=auth)).json()
    assert [b["id"] for b in bots] == [bot]


async def raw_request(api: Client, head: bytes, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """Send bytes no HTTP client would (a header that is not UTF-8); the status and the
    problem answered."""
    reader, writer = await asyncio.open_connection(api.server.host, api.server.port)
    try:
        writer.write(head + b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    problem_body: dict[str, Any] = json.loads(rest.partition(b"\r\n\r\n")[2])
    return int(status_line.split()[1]), problem_body


async def test_headers_that_are_not_text_are_refused(api: Client) -> None:
    tokens = await register(api)
    token = tokens["access_token"].encode()
    for credential in (b"\xff\xfe", b"chorus_\xff_secret", token + b"\xe9", b"chorus_a\tb_c"):
        status, body = await raw_request(
            api, b"GET /api/v1/bots HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + credential
            + b"\r\n"
        )  # fmt: skip
        assert status == 401, credential
        assert body["status"] == 401
    create = b'{"name": "Tea"}'
    for key in (b"\xff", b"tea\tkey", "clé".encode()):
        status, body = await raw_request(
            api,
            b"POST /api/v1/bots HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(create)
            + b"Idempotency-Key: " + key + b"\r\n",
            create,
        )  # fmt: skip
        if key == "clé".encode():  # printable: a fine key
            assert status == 201, body
        else:
            assert status == 400, (key, body)
            assert "Idempotency-Key" in body["detail"]


async def test_ids_and_cursors_a_column_cannot_hold_are_422_problems(api: Client) -> None:
    auth, bot = await creator_with_bot(api)
    huge = await api.get(
        f"/api/v1/bots/{bot}/content", params={"user_id": str(2**64)}, headers=auth
    )
    assert (await problem(huge, 422))["errors"][0]["loc"] == ["query", "user_id"]
    for empty in ("cursor", "state"):  # an empty filter or cursor means nothing
        refused = await api.get(
            f"/api/v1/bots/{bot}/conversations", params={empty: ""}, headers=auth
        )
        assert (await problem(refused, 422))["errors"][0]["loc"] == ["query", empty]
    # a cursor is the client's to send back: a forged one is refused, not queried with
    past_int64 = encode_cursor(10**30)
    users = await api.get(f"/api/v1/bots/{bot}/users", params={"cursor": past_int64}, headers=auth)
    assert "cursor" in (await problem(users, 422))["detail"]
    hook = {"url": "https://hooks.example.com/in", "events": ["conversation.started"]}
    made = await api.post("/api/v1/webhooks", json=hook, headers=auth)
    assert made.status == 201, await made.text()
    nul = encode_cursor(utcnow(), "we_\x00")
    deliveries = await api.get(
        f"/api/v1/webhooks/{(await made.json())['id']}/deliveries",
        params={"cursor": nul},
        headers=auth,
    )
    assert "cursor" in (await problem(deliveries, 422))["detail"]
