"""schemathesis against ``/openapi.json``: requests generated from the document, valid
and not, sent to a real ``chorus serve`` (which serves that same document) by a creator
who registered and logged in through the API; no answer is a server error, and every
answer matches what the document declares.

The creator owns one of everything (a bot, an API key, a learned document, a user with
a conversation and credits, a broadcast, a schedule, a webhook with a delivery), made
through the API and the widget before the run: half the time a path parameter names one
of them, so the operations go past their 404s. Each run draws a fresh seed, printed at
the start; ``API_FUZZ_SEED=N`` runs that one again. The creator's request limit is
raised for the run (``API_REQUESTS_PER_MINUTE``).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.config import ChecksConfig
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)

from core.api.accounts import SCOPES
from core.api.routes import API
from core.runtime.integrations import EVENTS
from tests.api import PASSWORD
from tests.servers import Server, free_port

SEED = int(os.environ.get("API_FUZZ_SEED") or secrets.randbits(64))
#: the database of the run, drawn with the seed: SQLite (the default) or PostgreSQL,
#: which refuses some text SQLite keeps
DATABASE = ("sqlite", "postgresql")[SEED % 2]
#: examples per operation, for a run of a few minutes on two shared cores
EXAMPLES = 15
SCHEMA = schemathesis.openapi.from_dict(API.openapi())
SCHEMA.config.seed = SEED
# what refuses invalid data: schemathesis's list, and 413 for a body over the limit
SCHEMA.config.checks = ChecksConfig.from_dict(
    {
        "negative_data_rejection": {
            "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
        }
    }
)


@dataclass
class Live:
    """The running server, its creator, and the ids of what the creator owns by the
    name of the path parameter that names each."""

    base: str = ""
    token: str = ""
    ids: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        """An API call of the creator's that must succeed; its JSON answer."""
        answer = requests.request(
            method,
            f"{self.base}/api/v1{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            **kwargs,
        )
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None


#: filled in by the ``live`` fixture: the hooks below run while the tests do
LIVE = Live()
#: the credentials schemathesis gives the cases that should carry valid ones; some of
#: them are made while the tests are collected, before the server runs, so each case's
#: is swapped for the creator's access token as it is sent
SIGNED_IN = "Bearer creator-access-token"


@SCHEMA.auth(refresh_interval=None)
class Creator:
    """The creator's credentials, where schemathesis wants valid ones (it leaves them
    out or spoils them itself to check that they are required)."""

    def get(self, case: schemathesis.Case, context: Any) -> str:
        return SIGNED_IN

    def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@SCHEMA.hook
def flatmap_path_parameters(context: Any, parameters: dict[str, Any] | None) -> Any:
    """Half the time a real id of the creator's for each path parameter; never for the
    one a DELETE deletes, so that later operations still find it."""
    if not parameters:
        return st.just(parameters)
    deleted = list(parameters)[-1] if context.operation.method.upper() == "DELETE" else None
    return st.fixed_dictionaries(
        {
            name: st.sampled_from([LIVE.ids[name], value])
            if name in LIVE.ids and name != deleted
            else st.just(value)
            for name, value in parameters.items()
        }
    )


def until(what: str, found: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + 120
    while (value := found()) is None:
        assert time.monotonic() < deadline, f"{what} never came"
        time.sleep(0.2)
    return value


async def visit(base: str, bot: str) -> None:
    """A visitor says something on the widget and gets the answer: a user and a
    conversation of the bot's, and a conversation.started event."""
    url = base.replace("http", "ws", 1) + f"/ws/widget/{bot}"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        await socket.send_json({"type": "hello", "last_seq": 0})
        await socket.send_json({"type": "message", "id": "m1", "text": "How hot for oolong?"})
        async for frame in socket:
            if json.loads(frame.data).get("type") == "reply":
                return


def own_one_of_everything(live: Live, token: str) -> dict[str, str]:
    """Make one of each resource through the API (and the widget); their ids."""
    bot = live.call("POST", "/bots", token, json={"name": "Fuzz", "id": "fuzz"})["id"]
    key = live.call("POST", "/api-keys", token, json={"name": "fuzz", "scopes": list(SCOPES)})
    hook = {"url": "https://hooks.example.com/chorus", "events": list(EVENTS), "bot_id": bot}
    webhook = live.call("POST", "/webhooks", token, json=hook)["id"]
    tea = {"file": ("tea.md", b"# Oolong\n\nBrew oolong at 90 degrees.\n", "text/markdown")}
    job = live.call("POST", f"/bots/{bot}/documents", token, files=tea)["id"]

    def learned() -> str | None:
        state = live.call("GET", f"/bots/{bot}/document-jobs/{job}", token)
        assert state["status"] != "failed", state
        return state["document_id"] if state["status"] == "done" else None

    document = until("the document", learned)
    asyncio.run(visit(live.base, bot))
    user = live.call("GET", f"/bots/{bot}/users", token)["items"][0]["id"]
    conversation = live.call("GET", f"/bots/{bot}/conversations", token)["items"][0]["id"]
    grant = {"credits": 5}
    live.call("POST", f"/bots/{bot}/users/{user}/credits/grants", token, json=grant)
    broadcast = live.call("POST", f"/bots/{bot}/broadcasts", token, json={"text": "Hello"})
    morning = {"text": "Good morning", "local_time": "08:00"}
    schedule = live.call("POST", f"/bots/{bot}/schedules", token, json=morning)
    deliveries = f"/webhooks/{webhook}/deliveries"
    delivery = until(
        "a webhook delivery",
        lambda: next(iter(live.call("GET", deliveries, token)["items"]), None),
    )
    return {
        "bot_id": bot,
        "key_id": key["id"],
        "webhook_id": webhook,
        "delivery_id": delivery["id"],
        "document_id": document,
        "job_id": job,
        "user_id": str(user),
        "conversation_id": str(conversation),
        "broadcast_id": str(broadcast["id"]),
        "schedule_id": str(schedule["id"]),
    }


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Live]:
    """``chorus serve`` on a free port, its creator registered, owning one of everything."""
    line = f"schemathesis seed {SEED} on {DATABASE} (API_FUZZ_SEED={SEED} runs it again)"
    print(line)  # with the test's output, and on the terminal as the run starts:
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
    data = tmp_path_factory.mktemp("schema")
    port = free_port()
    live = LIVE
    live.base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "API_REQUESTS_PER_MINUTE": "1000000",
        "PUBLIC_BASE_URL": live.base,
    }
    if DATABASE == "postgresql":
        env["DATABASE_URL"] = request.getfixturevalue("module_postgres_url")

    def ready() -> bool:
        try:
            return requests.get(f"{live.base}/ready", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    server = Server(
        [sys.executable, "-m", "core", "serve", "--host", "127.0.0.1", "--port", str(port)],
        Path(data) / "serve.log",
        ready,
        env=env,
    )
    server.start(within=120)
    try:
        served = requests.get(f"{live.base}/openapi.json", timeout=30).json()
        assert served == json.loads(json.dumps(API.openapi())), "the server serves another"
        # a creator registers, then logs in as clients do
        account = {"email": f"fuzz-{secrets.token_hex(4)}@example.com", "password": PASSWORD}
        registered = requests.post(f"{live.base}/api/v1/auth/register", json=account, timeout=30)
        assert registered.status_code == 201, registered.text
        login = requests.post(f"{live.base}/api/v1/auth/login", json=account, timeout=30)
        assert login.status_code == 200, login.text
        live.token = login.json()["access_token"]  # it lives 15 minutes: longer than a run
        live.ids = own_one_of_everything(live, live.token)
        yield live
    finally:
        server.stop()


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,  # what the seed draws is all a run does
)
def test_no_request_makes_a_server_error(case: schemathesis.Case, live: Live) -> None:
    if case.headers and case.headers.get("Authorization") == SIGNED_IN:
        case.headers["Authorization"] = f"Bearer {live.token}"
    # every check but "schema-valid data is accepted": the server checks more than a
    # schema can say (a pack's price against the currency's minimum, an avatar's https)
    excluded = [positive_data_acceptance]
    if case.media_type == "multipart/form-data":
        # a file is any bytes: a "file" of the wrong type (a number, a boolean) arrives
        # as a file all the same
        excluded.append(negative_data_rejection)
    try:
        case.call_and_validate(base_url=live.base, timeout=30, excluded_checks=excluded)
    except BaseException as exc:
        exc.add_note(f"schemathesis seed {SEED} on {DATABASE}: API_FUZZ_SEED={SEED} runs it again")
        raise
