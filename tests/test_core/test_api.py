"""The creators' REST API on a running app (SQLite and PostgreSQL): accounts and tokens,
API keys and scopes, bots, tenant isolation, idempotency, problems and the OpenAPI
document."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from core.api.accounts import ACCESS_TTL
from core.app import SERVICES
from core.storage.models import utcnow
from tests.api import PASSWORD, bearer, email, problem, register
from tests.chat import chat_with
from tests.test_channels.telegram_app import Client

#: what the docs page links to: its styles, scripts and the document
KINDS = {"text/css", "text/javascript", "application/javascript", "application/json"}


async def test_register_login_refresh_and_logout(api: Client) -> None:
    address = email()
    first = await register(api, address)
    assert first["token_type"] == "Bearer"
    assert first["expires_in"] == ACCESS_TTL.total_seconds()
    again = await api.post(
        "/api/v1/auth/register", json={"email": address.upper(), "password": PASSWORD}
    )
    assert "exists" in (await problem(again, 409))["detail"]

    wrong = await api.post("/api/v1/auth/login", json={"email": address, "password": "nope"})
    await problem(wrong, 401)
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    login = await api.post("/api/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert login.status == 200
    tokens = await login.json()
    assert tokens["creator_id"] == first["creator_id"]

    rotated = await api.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert rotated.status == 200
    newer = await rotated.json()
    assert newer["refresh_token"] != tokens["refresh_token"]
    listed = await api.get("/api/v1/bots", headers=bearer(newer["access_token"]))
    assert listed.status == 200

    # the spent token presented again: a thief; every token of that session ends
    reused = await api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert "already used" in (await problem(reused, 401))["detail"]
    after = await api.post("/api/v1/auth/refresh", json={"refresh_token": newer["refresh_token"]})
    assert "revoked" in (await problem(after, 401))["detail"]
    # the first session (from registering) is another family, untouched; logout ends it
    out = await api.post("/api/v1/auth/logout", json={"refresh_token": first["refresh_token"]})
    assert out.status == 204
    ended = await api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    await problem(ended, 401)


async def test_bad_registrations_and_tokens_are_refused(api: Client) -> None:
    short = await api.post("/api/v1/auth/register", json={"email": email(), "password": "short"})
    body = await problem(short, 422)
    assert body["errors"][0]["loc"] == ["password"]
    bad = await api.post(
        "/api/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD}
    )
    assert "email" in (await problem(bad, 422))["detail"]
    extra = await api.post(
        "/api/v1/auth/register", json={"email": email(), "password": PASSWORD, "admin": True}
    )
    await problem(extra, 422)
    broken = await api.post(
        "/api/v1/auth/login", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert "not JSON" in (await problem(broken, 400))["detail"]
    huge = await api.post("/api/v1/auth/login", data=b"x" * (65 * 1024))
    await problem(huge, 413)

    tokens = await register(api)
    accounts = api.app[SERVICES].accounts
    stale = accounts.access_token(tokens["creator_id"], now=utcnow() - timedelta(minutes=16))
    expired = await api.get("/api/v1/bots", headers=bearer(stale))
    assert "expired" in (await problem(expired, 401))["detail"]
    await problem(await api.get("/api/v1/bots"), 401)
    forged = tokens["access_token"][:-4] + "AAAA"
    await problem(await api.get("/api/v1/bots", headers=bearer(forged)), 401)
    # a refresh token is not an access token, nor the other way round
    await problem(await api.get("/api/v1/bots", headers=bearer(tokens["refresh_token"])), 401)
    mixed = await api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    await problem(mixed, 401)


async def test_the_longest_email_registers_without_a_name(api: Client) -> None:
    longest = "a" * 64 + "@" + "b" * 185 + ".com"  # 254 characters, more than a name has
    registered = await api.post(
        "/api/v1/auth/register", json={"email": longest, "password": PASSWORD}
    )
    assert registered.status == 201, await registered.text()
    account = await api.get(
        "/api/v1/account", headers=bearer((await registered.json())["access_token"])
    )
    assert (await account.json())["name"] == longest[:200]


async def test_logins_are_limited_per_email(api: Client) -> None:
    address = email()
    await register(api, address)
    statuses = []
    for _ in range(6):
        response = await api.post("/api/v1/auth/login", json={"email": address, "password": "x"})
        statuses.append(response.status)
    assert statuses == [401] * 5 + [429]
    assert int(response.headers["Retry-After"]) >= 1
    # the right password is refused too until the bucket refills
    right = await api.post("/api/v1/auth/login", json={"email": address, "password": PASSWORD})
    await problem(right, 429)


async def test_api_keys_carry_scopes_and_can_be_revoked(api: Client) -> None:
    tokens = await register(api)
    owner = bearer(tokens["access_token"])
    made = await api.post(
        "/api/v1/api-keys", json={"name": "reports", "scopes": ["bots:read"]}, headers=owner
    )
    assert made.status == 201
    key = await made.json()
    assert key["key"].startswith("chorus_")
    reader = bearer(key["key"])
    assert (await api.get("/api/v1/bots", headers=reader)).status == 200
    refused = await api.post("/api/v1/bots", json={"name": "Nope"}, headers=reader)
    assert "bots:write" in (await problem(refused, 403))["detail"]
    # a key never manages keys
    await problem(await api.get("/api/v1/api-keys", headers=reader), 403)
    unknown = await api.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["everything"]}, headers=owner
    )
    assert "unknown scopes" in (await problem(unknown, 422))["detail"]
    listed = await (await api.get("/api/v1/api-keys", headers=owner)).json()
    assert [k["name"] for k in listed] == ["reports"]
    assert "key" not in listed[0]
    assert listed[0]["last_used_at"] is not None
    gone = await api.delete(f"/api/v1/api-keys/{key['id']}", headers=owner)
    assert gone.status == 204
    assert (
        "revoked" in (await problem(await api.get("/api/v1/bots", headers=reader), 401))["detail"]
    )
    await problem(await api.delete(f"/api/v1/api-keys/{key['id']}", headers=owner), 404)
    wrong = bearer(key["key"][:-3] + "abc")
    await problem(await api.get("/api/v1/bots", headers=wrong), 401)


async def test_bots_are_created_changed_paused_and_deleted(api: Client) -> None:
    owner = bearer((await register(api))["access_token"])
    made = await api.post(
        "/api/v1/bots",
        json={"name": "Tea Coach", "persona": "Calm.", "greeting": "Hi!"},
        headers=owner,
    )
    assert made.status == 201
    bot = await made.json()
    assert bot["name"] == "Tea Coach"
    path = f"/api/v1/bots/{bot['id']}"
    assert (await (await api.get(path, headers=owner)).json()) == bot
    changed = await api.patch(path, json={"greeting": "Welcome!"}, headers=owner)
    assert (await changed.json())["greeting"] == "Welcome!"
    paused = await api.post(f"{path}/pause", headers=owner)
    assert (await paused.json())["paused"] is True
    assert (await (await api.post(f"{path}/resume", headers=owner)).json())["paused"] is False
    taken = await api.post("/api/v1/bots", json={"name": "X", "id": bot["id"]}, headers=owner)
    await problem(taken, 409)
    listed = await (await api.get("/api/v1/bots", headers=owner)).json()
    assert [b["id"] for b in listed] == [bot["id"]]
    assert (await api.delete(path, headers=owner)).status == 204
    await problem(await api.get(path, headers=owner), 404)


async def test_guided_creation_is_switched_off_and_on_per_bot(api: Client) -> None:
    owner = bearer((await register(api))["access_token"])
    made = await api.post("/api/v1/bots", json={"name": "Help Desk"}, headers=owner)
    bot = await made.json()
    assert bot["features"] == {"create": True}
    path = f"/api/v1/bots/{bot['id']}"
    off = await api.patch(path, json={"features": {"create": False}}, headers=owner)
    assert off.status == 200, await off.text()
    assert (await off.json())["features"] == {"create": False}
    assert (await (await api.get(path, headers=owner)).json())["features"] == {"create": False}
    # a change of something else keeps the switch
    renamed = await api.patch(path, json={"name": "Help Desk 2", "features": {}}, headers=owner)
    assert (await renamed.json())["features"] == {"create": False}

    user = chat_with(api.app[SERVICES], bot_id=bot["id"])
    await user.say("/start")
    assert not user.last[-1].buttons
    assert "/create" not in (await user.say("/help"))[-1].text
    assert "doesn't make meditations" in (await user.say("/create meditation"))[-1].text
    await user.say("a meditation")  # once enough to start the flow: now just a question
    assert "couldn't find anything" in user.text
    assert not any(r.buttons for r in user.last)

    for bad in (
        {"features": {"create": "sometimes"}},
        {"features": {"create": 0}},  # a boolean, not something that looks like one
        {"features": {"sing": True}},
    ):
        await problem(await api.patch(path, json=bad, headers=owner), 422)
    on = await api.patch(path, json={"features": {"create": True}}, headers=owner)
    assert (await on.json())["features"] == {"create": True}
    await user.say("/create")
    assert "What shall we make together?" in user.text
    schema = (await (await api.get("/openapi.json")).json())["components"]["schemas"]
    assert "create" in schema["FeaturesChange"]["properties"]
    assert "features" in schema["BotChange"]["properties"]


async def test_a_creator_never_reaches_another_creators_bots(api: Client) -> None:
    ana = bearer((await register(api))["access_token"])
    ben = bearer((await register(api))["access_token"])
    bot = await (await api.post("/api/v1/bots", json={"name": "Ana's"}, headers=ana)).json()
    path = f"/api/v1/bots/{bot['id']}"
    for method, url, body in (
        ("GET", path, None),
        ("PATCH", path, {"name": "Mine now"}),
        ("POST", f"{path}/pause", None),
        ("POST", f"{path}/resume", None),
        ("DELETE", path, None),
    ):
        response = await api.request(method, url, json=body, headers=ben)
        # exactly what a bot that does not exist answers
        assert (await problem(response, 404))["detail"] == "no such bot"
    assert await (await api.get("/api/v1/bots", headers=ben)).json() == []
    assert (await (await api.get(path, headers=ana)).json())["name"] == "Ana's"
    # nor the demo bot, which no account owns
    await problem(await api.get("/api/v1/bots/demo", headers=ben), 404)


async def test_an_idempotency_key_creates_once(api: Client) -> None:
    owner = bearer((await register(api))["access_token"])
    headers = {**owner, "Idempotency-Key": "create-tea-1"}
    first, second = await asyncio.gather(
        api.post("/api/v1/bots", json={"name": "Tea"}, headers=headers),
        api.post("/api/v1/bots", json={"name": "Tea"}, headers=headers),
    )
    statuses = sorted([first.status, second.status])
    assert statuses in ([201, 201], [201, 409])  # a twin still running is told to retry
    again = await api.post("/api/v1/bots", json={"name": "Tea"}, headers=headers)
    assert again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    made = await (first if first.status == 201 else second).json()
    assert await again.json() == made
    assert len(await (await api.get("/api/v1/bots", headers=owner)).json()) == 1
    other = await api.post("/api/v1/bots", json={"name": "Coffee"}, headers=headers)
    assert "another request" in (await problem(other, 422))["detail"]
    # another creator's identical key is theirs alone
    ben = bearer((await register(api))["access_token"])
    theirs = await api.post(
        "/api/v1/bots", json={"name": "Tea"}, headers={**ben, "Idempotency-Key": "create-tea-1"}
    )
    assert theirs.status == 201
    assert (await theirs.json())["id"] != made["id"]


async def test_the_openapi_document_and_the_docs_page(api: Client) -> None:
    document = await (await api.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    bots = document["paths"]["/api/v1/bots"]
    assert bots["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BotCreate"
    }
    assert "Idempotency-Key" in [p["name"] for p in bots["post"]["parameters"]]
    assert bots["get"]["security"] == [{"bearer": []}]
    assert "404" in document["paths"]["/api/v1/bots/{bot_id}"]["get"]["responses"]
    assert "Problem" in document["components"]["schemas"]
    page = await api.get("/docs")
    assert page.status == 200
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    # everything the page loads is served here (the browser test renders it)
    linked = re.findall(r'(?:src|href)="([^"]+)"', await page.text())
    assert linked, "the page links no script or style"
    for address in linked:
        assert address.startswith("/"), address
        loaded = await api.get(address)
        assert loaded.status == 200, address
        kind = loaded.headers["Content-Type"].split(";")[0]
        assert kind in KINDS or kind.startswith("image/"), address
    script = await api.get("/docs/static/swagger-ui-bundle.js")
    assert len(await script.read()) > 500_000
    again = await api.get(
        "/docs/static/swagger-ui-bundle.js", headers={"If-None-Match": script.headers["ETag"]}
    )
    assert again.status == 304
    assert (await api.get("/docs/static/swagger-editor-bundle.js")).status == 404
    assert (await api.get("/docs/static/..%2f..%2fcore.py")).status == 404
    icon = await api.get("/favicon.ico")
    assert icon.status == 200
    assert icon.headers["Content-Type"] == "image/x-icon"
    missing = await api.get("/api/v1/nothing-here")
    await problem(missing, 404)
    wrong = await api.put("/api/v1/bots")
    await problem(wrong, 405)
