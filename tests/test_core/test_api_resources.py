"""The REST API's resources on a running app (SQLite and PostgreSQL): knowledge uploads
learned by document jobs, search, users, conversations and messages a page at a time,
the content library, pricing and credits, the widget, rate limits; and, for every
endpoint under a bot, another creator's calls answered 404 without touching anything."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

from aiohttp import FormData
from sqlalchemy import func, select

from core.api.common import API, PageQuery
from core.api.spec import PREFIX
from core.app import SERVICES
from core.messages import Channel
from core.settings import Settings
from core.storage.models import ContentItem, Conversation, EndUser, utcnow
from tests.api import PASSWORD, bearer, problem, register
from tests.chat import Chat
from tests.test_channels.telegram_app import Client, services_ready, start

#: a chat command in a text, such as "/docs": API answers must not send clients to a chat
CHAT_COMMAND = re.compile(r"(?<![\w/])/[a-z]+\b")
TEA = b"""# Oolong tea

Oolong is a traditional semi-oxidised Chinese tea. Its leaves are withered under the sun
and oxidised before curling and twisting. Brew oolong at 90 degrees for three minutes;
the same leaves can be steeped five or six times, each infusion tasting different.
"""


async def creator_with_bot(api: Client, bot_id: str | None = None) -> tuple[dict[str, str], str]:
    tokens = await register(api)
    headers = bearer(tokens["access_token"])
    response = await api.post("/api/v1/bots", json={"name": "Tea Guide"}, headers=headers)
    assert response.status == 201, await response.text()
    return headers, (await response.json())["id"]


def upload(data: bytes, filename: str, content_type: str = "text/markdown") -> FormData:
    form = FormData()
    form.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    return form


async def finished(api: Client, headers: dict[str, str], bot: str, job: str) -> dict[str, Any]:
    for _ in range(600):
        response = await api.get(f"/api/v1/bots/{bot}/document-jobs/{job}", headers=headers)
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        if body["status"] in ("done", "failed"):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"the document job never finished: {body}")


async def test_a_document_is_uploaded_learned_searched_and_deleted(
    api: Client, settings: Settings
) -> None:
    headers, bot = await creator_with_bot(api)
    response = await api.post(
        f"/api/v1/bots/{bot}/documents", data=upload(TEA, "oolong.md"), headers=headers
    )
    assert response.status == 202, await response.text()
    job = await response.json()
    assert job["status"] in ("queued", "running", "done")
    assert job["filename"] == "oolong.md"
    assert job["size"] == len(TEA)

    done = await finished(api, headers, bot, job["id"])
    assert done["status"] == "done", done
    assert done["progress"] == "Learned “Oolong tea”: 1 passage."
    assert not CHAT_COMMAND.search(done["progress"])  # API wording, not the chat's
    # the upload is gone from disk once learned
    assert not any((settings.data_dir / "uploads").iterdir())
    jobs = await (await api.get(f"/api/v1/bots/{bot}/document-jobs", headers=headers)).json()
    assert [j["id"] for j in jobs] == [job["id"]]

    documents = await (await api.get(f"/api/v1/bots/{bot}/documents", headers=headers)).json()
    assert [d["id"] for d in documents] == [done["document_id"]]
    assert documents[0]["title"] == "Oolong tea"
    assert documents[0]["passages"] >= 1
    one = await api.get(f"/api/v1/bots/{bot}/documents/{done['document_id']}", headers=headers)
    assert (await one.json())["mime_type"].startswith("text/")

    # searchable by its words at once; by its meaning once its vectors are computed
    words = await api.get(
        f"/api/v1/bots/{bot}/search", params={"q": "brew oolong degrees"}, headers=headers
    )
    assert (await words.json())["covered"] is True
    await api.app[SERVICES].jobs.idle()
    search = await api.get(
        f"/api/v1/bots/{bot}/search",
        params={"q": "How hot should the water be for oolong?"},
        headers=headers,
    )
    found = await search.json()
    assert found["covered"] is True
    assert found["hits"][0]["document_id"] == done["document_id"]
    assert "90 degrees" in found["hits"][0]["text"]

    # the same file again changes nothing
    again = await api.post(
        f"/api/v1/bots/{bot}/documents", data=upload(TEA, "copy.md"), headers=headers
    )
    second = await finished(api, headers, bot, (await again.json())["id"])
    assert second["document_id"] == done["document_id"]
    assert "Already learned as “Oolong tea”" in second["progress"]
    assert done["document_id"] in second["progress"]
    assert not CHAT_COMMAND.search(second["progress"])

    gone = await api.delete(f"/api/v1/bots/{bot}/documents/{done['document_id']}", headers=headers)
    assert gone.status == 204
    assert await (await api.get(f"/api/v1/bots/{bot}/documents", headers=headers)).json() == []
    empty = await api.get(f"/api/v1/bots/{bot}/search", params={"q": "oolong"}, headers=headers)
    assert (await empty.json())["hits"] == []
    missing = await api.delete(
        f"/api/v1/bots/{bot}/documents/{done['document_id']}", headers=headers
    )
    await problem(missing, 404)


async def test_bad_uploads_are_refused_and_leave_nothing(api: Client, settings: Settings) -> None:
    headers, bot = await creator_with_bot(api)
    url = f"/api/v1/bots/{bot}/documents"
    as_json = await api.post(url, json={"file": "oolong"}, headers=headers)
    await problem(as_json, 415)
    form = FormData()
    form.add_field("other", b"x", filename="x.md")
    await problem(await api.post(url, data=form, headers=headers), 422)
    empty = await api.post(url, data=upload(b"", "empty.md"), headers=headers)
    assert "empty" in (await problem(empty, 422))["detail"]
    video = await api.post(url, data=upload(b"\x00" * 100, "a.mp4", "video/mp4"), headers=headers)
    assert video.status == 202  # refused by the job, which says why
    failed = await finished(api, headers, bot, (await video.json())["id"])
    assert failed["status"] == "failed"
    assert failed["error"]
    broken = await api.post(
        url, data=upload(b"%PDF-1.7 broken", "broken.pdf", "application/pdf"), headers=headers
    )
    failed = await finished(api, headers, bot, (await broken.json())["id"])
    assert failed["status"] == "failed"
    assert failed["error"].startswith("Could not learn from broken.pdf: ")
    assert not CHAT_COMMAND.search(failed["error"])
    assert not any((settings.data_dir / "uploads").iterdir())

    # over the size limit, streamed or announced: 413, and nothing kept
    small = settings.model_copy(update={"max_document_mb": 1})
    client = await start(small)
    try:
        await services_ready(client)
        headers, bot = await creator_with_bot(client)
        big = await client.post(
            f"/api/v1/bots/{bot}/documents",
            data=upload(b"tea " * 300_000, "big.md"),
            headers=headers,
        )
        assert "1 MB" in (await problem(big, 413))["detail"]
        jobs = await client.get(f"/api/v1/bots/{bot}/document-jobs", headers=headers)
        assert await jobs.json() == []
    finally:
        await client.close()
    assert not any((settings.data_dir / "uploads").iterdir())


async def talk(api: Client, bot: str, users: int) -> None:
    """``users`` end users each greet the bot and ask something, on the terminal."""
    engine = api.app[SERVICES].engine
    for n in range(users):
        chat = Chat(engine, sender_id=f"user-{n}", bot_id=bot, channel=Channel.TERMINAL)
        await chat.say("/start")
        await chat.say(f"What is oolong, question {n}?")


async def pages(api: Client, url: str, headers: dict[str, str], **params: Any) -> list[Any]:
    """Every item of a paged listing, following next_cursor."""
    items: list[Any] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.get(url, params=query, headers=headers)
        assert response.status == 200, await response.text()
        page = await response.json()
        items.extend(page["items"])
        if (cursor := page["next_cursor"]) is None:
            return items
    raise AssertionError("the pages never ended")


async def test_users_conversations_and_messages_come_a_page_at_a_time(api: Client) -> None:
    headers, bot = await creator_with_bot(api)
    await talk(api, bot, 7)
    users = await pages(api, f"/api/v1/bots/{bot}/users", headers, limit=3)
    assert len(users) == 7
    assert len({u["id"] for u in users}) == 7
    assert [u["id"] for u in users] == sorted((u["id"] for u in users), reverse=True)
    assert users[0]["channels"] == [
        {"channel": "terminal", "external_id": "user-6", "reachable": True}
    ]
    one = await api.get(f"/api/v1/bots/{bot}/users/{users[0]['id']}", headers=headers)
    assert (await one.json())["channels"][0]["external_id"] == "user-6"

    # the most recently active first; a conversation that moves on moves up
    engine = api.app[SERVICES].engine
    await Chat(engine, sender_id="user-2", bot_id=bot).say("And green tea?")
    conversations = await pages(api, f"/api/v1/bots/{bot}/conversations", headers, limit=2)
    assert len(conversations) == 7
    assert len({c["id"] for c in conversations}) == 7
    assert conversations[0]["user"]["channels"][0]["external_id"] == "user-2"
    moments = [c["updated_at"] for c in conversations]
    assert moments == sorted(moments, reverse=True)
    chatting = await pages(api, f"/api/v1/bots/{bot}/conversations", headers, state="chat")
    assert {c["state"] for c in chatting} == {"chat"}
    assert len(chatting) == 7
    assert await pages(api, f"/api/v1/bots/{bot}/conversations", headers, state="paywall") == []

    url = f"/api/v1/bots/{bot}/conversations/{conversations[0]['id']}"
    assert (await (await api.get(url, headers=headers)).json())["state"] == "chat"
    oldest_first = await pages(api, url + "/messages", headers, limit=2)
    newest_first = await pages(api, url + "/messages", headers, limit=3, order="desc")
    assert [m["id"] for m in oldest_first] == [m["id"] for m in reversed(newest_first)]
    assert [m["direction"] for m in oldest_first[:2]] == ["in", "out"]
    assert oldest_first[0]["text"] == "/start"
    assert any(m["text"] == "And green tea?" for m in oldest_first)
    replies = [m for m in oldest_first if m["direction"] == "out"]
    assert all(m["reply_to_id"] for m in replies)

    bad = await api.get(url + "/messages", params={"cursor": "bm90IG91cnM"}, headers=headers)
    assert "cursor" in (await problem(bad, 422))["detail"]
    too_many = await api.get(url + "/messages", params={"limit": "500"}, headers=headers)
    assert (await problem(too_many, 422))["errors"][0]["loc"] == ["query", "limit"]
    await problem(await api.get(f"/api/v1/bots/{bot}/conversations/999999", headers=headers), 404)
    await problem(await api.get(f"/api/v1/bots/{bot}/conversations/abc", headers=headers), 404)


RECORDING = "0123456789abcdef0123456789abcdef"


async def test_the_content_library_with_signed_links(api: Client, settings: Settings) -> None:
    headers, bot = await creator_with_bot(api)
    await talk(api, bot, 2)
    services = api.app[SERVICES]
    users = await pages(api, f"/api/v1/bots/{bot}/users", headers)
    async with services.db.transaction() as session:
        for n in range(5):
            session.add(
                ContentItem(
                    bot_id=bot,
                    end_user_id=users[n % 2]["id"],
                    content_type="meditation" if n % 2 else "affirmations",
                    title=f"Calm {n}",
                    parameters={"length": "5"},
                    text=f"Breathe in {n}.",
                    audio={"ogg": f"media:{RECORDING}.ogg", "duration": 61.5} if n == 4 else {},
                )
            )
    everything = await pages(api, f"/api/v1/bots/{bot}/content", headers, limit=2)
    assert [c["title"] for c in everything] == [f"Calm {n}" for n in (4, 3, 2, 1, 0)]
    newest = everything[0]
    assert newest["recording"]["duration"] == 61.5
    assert re.fullmatch(
        re.escape(settings.public_base_url) + rf"/media/{RECORDING}\.\d+\.[\w-]+\.ogg",
        newest["recording"]["links"]["ogg"],
    )
    assert everything[1]["recording"] is None
    theirs = await pages(api, f"/api/v1/bots/{bot}/content", headers, user_id=str(users[0]["id"]))
    assert {c["user_id"] for c in theirs} == {users[0]["id"]}
    assert len(theirs) == 3
    meditations = await pages(
        api, f"/api/v1/bots/{bot}/content", headers, content_type="meditation"
    )
    assert [c["title"] for c in meditations] == ["Calm 3", "Calm 1"]
    one = await api.get(f"/api/v1/bots/{bot}/content/{newest['id']}", headers=headers)
    assert (await one.json())["text"] == "Breathe in 4."


async def test_pricing_credits_and_grants(api: Client) -> None:
    headers, bot = await creator_with_bot(api)
    await talk(api, bot, 1)
    (user,) = await pages(api, f"/api/v1/bots/{bot}/users", headers)
    pricing_url = f"/api/v1/bots/{bot}/pricing"
    free = await (await api.get(pricing_url, headers=headers)).json()
    assert free["costs"] == {}
    assert free["packs"] == []
    wanted = {
        "currency": "usd",
        "free_credits": 3,
        "costs": {"meditation": 2},
        "packs": [{"id": "ten", "credits": 10, "price": 500}],
        "tiers": [],
        "question_cost": 0,
        "free_questions": 0,
    }
    assert free["warnings"] == []
    saved = await api.put(pricing_url, json=wanted, headers=headers)
    assert saved.status == 200
    shown = await saved.json()
    # a pack on sale without Stripe on the server: the creator is warned in the answer
    (warning,) = shown.pop("warnings")
    assert "Users can't pay for these packs and plans yet" in warning
    assert "STRIPE_SECRET_KEY" in warning
    assert shown == wanted
    fetched = await (await api.get(pricing_url, headers=headers)).json()
    assert fetched == {**wanted, "warnings": [warning]}
    # what GET gave can be PUT back: the warnings are read only
    again = await api.put(pricing_url, json=fetched, headers=headers)
    assert await again.json() == fetched
    bad = await api.put(pricing_url, json={**wanted, "currency": "xyz"}, headers=headers)
    assert "currency" in (await problem(bad, 422))["detail"]
    negative = await api.put(pricing_url, json={**wanted, "free_credits": -1}, headers=headers)
    await problem(negative, 422)
    assert await (await api.get(pricing_url, headers=headers)).json() == fetched
    unsold = await api.put(pricing_url, json={**wanted, "packs": []}, headers=headers)
    assert (await unsold.json())["warnings"] == []  # nothing on sale: nothing to warn of
    await api.put(pricing_url, json=wanted, headers=headers)

    credits_url = f"/api/v1/bots/{bot}/users/{user['id']}/credits"
    before = await (await api.get(credits_url, headers=headers)).json()
    assert before["balance"] == 3  # the welcome credits, given when the account opens
    key = {"Idempotency-Key": "grant-1", **headers}
    first = await api.post(credits_url + "/grants", json={"credits": 5}, headers=key)
    assert first.status == 201, await first.text()
    replay = await api.post(credits_url + "/grants", json={"credits": 5}, headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    after = await (await api.get(credits_url, headers=headers)).json()
    assert after["balance"] == before["balance"] + 5
    entries = await pages(api, credits_url + "/entries", headers, limit=1)
    assert entries[0]["kind"] == "creator_grant"
    assert entries[0]["amount"] == 5
    assert sum(e["amount"] for e in entries) == after["balance"]
    zero = await api.post(credits_url + "/grants", json={"credits": 0}, headers=headers)
    await problem(zero, 422)
    await problem(await api.get(f"/api/v1/bots/{bot}/users/99999/credits", headers=headers), 404)

    # a key that may only read credits cannot grant them
    made = await api.post(
        "/api/v1/api-keys", json={"name": "reports", "scopes": ["credits:read"]}, headers=headers
    )
    reader = bearer((await made.json())["key"])
    assert (await api.get(credits_url, headers=reader)).status == 200
    await problem(await api.post(credits_url + "/grants", json={"credits": 1}, headers=reader), 403)


async def test_widget_settings_and_embed_code(api: Client, settings: Settings) -> None:
    headers, bot = await creator_with_bot(api)
    url = f"/api/v1/bots/{bot}/widget"
    widget = await (await api.get(url, headers=headers)).json()
    assert widget["allowed_origins"] == []
    assert f'data-bot="{bot}"' in widget["embed_code"]
    # PUBLIC_BASE_URL is not set: the widget loads from where this server was reached
    reached = str(api.make_url("")).rstrip("/")
    assert reached != settings.public_base_url
    assert f'src="{reached}/widget.js"' in widget["embed_code"]
    assert (widget["base_url"], widget["base_url_from"]) == (reached, "request")
    assert "PUBLIC_BASE_URL is not set" in widget["note"]
    # as visitors' browsers reach it, whichever name they use
    named = await api.get(url, headers={**headers, "Host": "chat.example.com:8443"})
    assert (await named.json())["base_url"] == "http://chat.example.com:8443"
    changed = await api.patch(
        url,
        json={
            "allowed_origins": ["https://Shop.Example/page", "https://shop.example"],
            "theme": {"color": "#0F766E", "title": "Ask Ana", "position": "left"},
        },
        headers=headers,
    )
    body = await changed.json()
    assert body["allowed_origins"] == ["https://shop.example"]
    assert body["theme"] == {
        "color": "#0f766e",
        "title": "Ask Ana",
        "position": "left",
        "avatar": None,
    }
    # the chat command sees the same settings
    stored = await api.app[SERVICES].bots.settings(bot)
    assert stored["allowed_origins"] == ["https://shop.example"]
    assert stored["widget"]["title"] == "Ask Ana"

    bad = await api.patch(url, json={"allowed_origins": ["ftp://x"]}, headers=headers)
    assert "origin" in (await problem(bad, 422))["detail"]
    avatar = await api.patch(url, json={"theme": {"avatar": "http://x/a.png"}}, headers=headers)
    assert "https" in (await problem(avatar, 422))["detail"]
    reset = await api.patch(url, json={"theme": {}}, headers=headers)
    assert (await reset.json())["theme"]["title"] is None
    assert (await reset.json())["allowed_origins"] == ["https://shop.example"]


async def test_widget_embed_code_loads_from_public_base_url_when_set(
    database_url: str, tmp_path: Path
) -> None:
    public = "https://chat.example.com"
    settings = Settings(database_url=database_url, data_dir=tmp_path, public_base_url=public)
    api = await start(settings)
    try:
        await services_ready(api)
        headers, bot = await creator_with_bot(api)
        widget = await (await api.get(f"/api/v1/bots/{bot}/widget", headers=headers)).json()
    finally:
        await api.close()
    assert f'src="{public}/widget.js"' in widget["embed_code"]
    assert (widget["base_url"], widget["base_url_from"]) == (public, "PUBLIC_BASE_URL")
    assert widget["note"] is None


async def test_requests_are_rate_limited_per_creator(settings: Settings) -> None:
    client = await start(settings.model_copy(update={"api_requests_per_minute": 10}))
    try:
        await services_ready(client)
        headers, _ = await creator_with_bot(client)
        statuses = []
        for _ in range(3):
            response = await client.get("/api/v1/bots", headers=headers)
            statuses.append(response.status)
            assert response.headers["X-RateLimit-Limit"] == "2"
        # the bot's creation took one of the two
        assert statuses == [200, 429, 429]
        body = await problem(response, 429)
        assert body["title"] == "Too Many Requests"
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert int(response.headers["Retry-After"]) >= 1
        # another creator has their own allowance
        other, _ = await creator_with_bot(client)
        assert (await client.get("/api/v1/bots", headers=other)).status == 200
    finally:
        await client.close()


# a valid body for the endpoints whose body has required fields
BODIES: dict[str, dict[str, Any]] = {
    "grant_credits": {"credits": 1},
    "create_schedule": {"text": "Tea time!", "local_time": "16:00"},
    "create_broadcast": {"text": "Tea time!"},
}
QUERIES: dict[str, dict[str, str]] = {"search_knowledge": {"q": "oolong"}}


async def test_no_endpoint_under_a_bot_serves_another_creator(api: Client) -> None:
    owner, bot = await creator_with_bot(api)
    await talk(api, bot, 1)
    services = api.app[SERVICES]
    response = await api.post(
        f"/api/v1/bots/{bot}/documents", data=upload(TEA, "oolong.md"), headers=owner
    )
    job = await finished(api, owner, bot, (await response.json())["id"])
    (user,) = await pages(api, f"/api/v1/bots/{bot}/users", owner)
    async with services.db.transaction() as session:
        item = ContentItem(
            bot_id=bot, end_user_id=user["id"], content_type="ritual", title="Tea", text="Sip."
        )
        session.add(item)
        await session.flush()
        content_id = item.id
        conversation = await session.scalar(
            Conversation.__table__.select().where(Conversation.bot_id == bot)
        )
    schedule = await api.post(
        f"/api/v1/bots/{bot}/schedules", json=BODIES["create_schedule"], headers=owner
    )
    broadcast = await api.post(
        f"/api/v1/bots/{bot}/broadcasts", json=BODIES["create_broadcast"], headers=owner
    )
    ids = {
        "broadcast_id": str((await broadcast.json())["id"]),
        "bot_id": bot,
        "user_id": str(user["id"]),
        "conversation_id": str(conversation),
        "content_id": str(content_id),
        "document_id": job["document_id"],
        "job_id": job["id"],
        "schedule_id": str((await schedule.json())["id"]),
    }
    before = {
        name: await (await api.get(f"/api/v1/bots/{bot}/{name}", headers=owner)).text()
        for name in (
            "pricing",
            "widget",
            "documents",
            f"users/{user['id']}/credits",
            f"broadcasts/{ids['broadcast_id']}",
        )
    }
    intruder, _ = await creator_with_bot(api)
    checked = []
    for endpoint in API.endpoints:
        if "{bot_id}" not in endpoint.path:
            continue
        url = PREFIX + endpoint.path.format(**ids)
        options: dict[str, Any] = {"headers": intruder}
        if endpoint.body is not None:
            options["json"] = BODIES.get(endpoint.operation_id, {})
        if endpoint.upload:
            options["data"] = upload(TEA, "mine.md")
        options["params"] = QUERIES.get(endpoint.operation_id, {})
        response = await api.request(endpoint.method, url, **options)
        body = await problem(response, 404)
        assert bot not in body["detail"], endpoint.operation_id
        checked.append(endpoint.operation_id)
    assert {
        "upload_document",
        "list_messages",
        "grant_credits",
        "change_widget",
        "change_schedule",
        "cancel_broadcast",
    } <= set(checked)
    after = {
        name: await (await api.get(f"/api/v1/bots/{bot}/{name}", headers=owner)).text()
        for name in before
    }
    assert after == before
    assert (await api.get(f"/api/v1/bots/{bot}", headers=owner)).status == 200


def test_cursor_limits_are_in_the_openapi_document() -> None:
    document = API.openapi()
    operation = document["paths"]["/api/v1/bots/{bot_id}/conversations"]["get"]
    limit = next(p for p in operation["parameters"] if p["name"] == "limit")
    assert limit["in"] == "query"
    assert limit["schema"]["maximum"] == 200
    assert PageQuery.model_fields["limit"].default == 50
    upload_op = document["paths"]["/api/v1/bots/{bot_id}/documents"]["post"]
    assert "multipart/form-data" in upload_op["requestBody"]["content"]
    assert {"413", "415", "429"} <= set(upload_op["responses"])
    for path in document["paths"].values():
        for op in path.values():
            for response in op["responses"].values():
                for media in response.get("content", {}).values():
                    ref = media["schema"].get("$ref") or media["schema"].get("items", {}).get(
                        "$ref", ""
                    )
                    if ref:
                        assert ref.rsplit("/", 1)[1] in document["components"]["schemas"], ref


async def test_analytics_count_what_users_did(api: Client) -> None:
    headers, bot = await creator_with_bot(api)
    await talk(api, bot, 3)
    response = await api.get(f"/api/v1/bots/{bot}/analytics", params={"days": "7"}, headers=headers)
    assert response.status == 200, await response.text()
    report = await response.json()
    assert len(report["daily"]) == 7
    assert report["last_day"] == utcnow().date().isoformat()
    today = report["daily"][-1]
    assert today["inbound"] == 6  # three users: /start and a question each
    assert today["active_users"] == 3
    assert report["channels"] == [
        {"channel": "terminal", "inbound": 6, "outbound": report["outbound"]}
    ]
    assert report["questions"] == 3
    # the new bot knows nothing: none of them was covered
    assert report["unanswered"] == 3
    assert len(report["unanswered_questions"]) == 3
    assert report["credits_sold"] == 0
    too_long = await api.get(
        f"/api/v1/bots/{bot}/analytics", params={"days": "400"}, headers=headers
    )
    await problem(too_long, 422)


async def test_a_creator_exports_and_deletes_their_account(api: Client) -> None:
    tokens = await register(api)
    headers = bearer(tokens["access_token"])
    made = await api.post("/api/v1/bots", json={"name": "Leaving"}, headers=headers)
    bot = (await made.json())["id"]
    await talk(api, bot, 2)
    key = await api.post(
        "/api/v1/api-keys", json={"name": "ci", "scopes": ["bots:read"]}, headers=headers
    )
    secret = (await key.json())["key"]
    others, other_bot = await creator_with_bot(api)
    await talk(api, other_bot, 1)

    account = await (await api.get("/api/v1/account", headers=headers)).json()
    assert account["id"] == tokens["creator_id"]
    export = await api.get("/api/v1/account/export", headers=headers)
    text = await export.text()
    assert secret.rsplit("_", 1)[1] not in text
    body = json.loads(text)
    assert [b["id"] for b in body["bots"]] == [bot]
    assert body["bots"][0]["end_users"] == 2
    assert body["api_keys"][0]["name"] == "ci"
    # a key cannot close the account
    await problem(await api.get("/api/v1/account", headers=bearer(secret)), 403)

    wrong = await api.delete("/api/v1/account", json={"password": "not it"}, headers=headers)
    await problem(wrong, 401)
    gone = await api.delete("/api/v1/account", json={"password": PASSWORD}, headers=headers)
    assert gone.status == 204
    services = api.app[SERVICES]
    async with services.db.read() as session:
        left = await session.scalar(
            select(func.count()).select_from(EndUser).where(EndUser.bot_id == bot)
        )
    assert left == 0
    await problem(await api.get("/api/v1/bots", headers=bearer(secret)), 401)
    refresh = await api.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    await problem(refresh, 401)
    # the other creator keeps everything
    assert len(await pages(api, f"/api/v1/bots/{other_bot}/users", others)) == 1
