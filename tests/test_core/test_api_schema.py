"""schemathesis against ``/openapi.json``: requests generated from the document, valid
and not, sent to a real ``chorus serve`` by a creator with a bot; no answer is a server
error, and every answer matches what the document declares."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from core.api.routes import API
from tests.api import PASSWORD
from tests.servers import Server, free_port

SCHEMA = schemathesis.openapi.from_dict(API.openapi())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The server's address and a creator's credentials (the creator has a bot)."""
    data = tmp_path_factory.mktemp("schema")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATA_DIR": str(data),
        "API_REQUESTS_PER_MINUTE": "1000000",
        "PUBLIC_BASE_URL": base,
    }

    def ready() -> bool:
        try:
            return requests.get(f"{base}/ready", timeout=1).status_code == 200
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
        tokens = requests.post(
            f"{base}/api/v1/auth/register",
            json={"email": "fuzz@example.com", "password": PASSWORD},
            timeout=10,
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        made = requests.post(
            f"{base}/api/v1/bots", json={"name": "Fuzz"}, headers=headers, timeout=10
        )
        assert made.status_code == 201, made.text
        yield base, headers
    finally:
        server.stop()


@SCHEMA.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_makes_a_server_error(
    case: schemathesis.Case, served: tuple[str, dict[str, str]]
) -> None:
    base, headers = served
    # every check but "schema-valid data is accepted": the server checks more than a
    # schema can say (a pack's price against the currency's minimum, an avatar's https)
    case.call_and_validate(
        base_url=base, headers=headers, timeout=30, excluded_checks=[positive_data_acceptance]
    )
