"""The outbound guard seen from outside `fireline serve` (NET-1, NET-3): one local fake answers
as both `localhost` and `127.0.0.1`; a Web API connection allowed to send its credential to
`localhost` reaches it there and never at `127.0.0.1`; and a server that allows no private
network refuses to connect to loopback at all, saying why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.integrations.fakes import web_api as fake
from tests.integrations.support import FakeServer, ca_bundle, serve
from tests.served.harness import Served

TOKEN = "loopback-token-62a1d9"
API_KEY = "loopback-key-0e57b3"


@pytest.fixture(scope="module")
def loopback_state() -> fake.State:
    return fake.State(token=TOKEN, api_key=API_KEY)


@pytest.fixture(scope="module")
def loopback_api(loopback_state: fake.State, served_ca: trustme.CA,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    # `serve` certifies localhost and 127.0.0.1: only the allow-list tells them apart.
    with serve(fake.make_app(loopback_state), served_ca,
               tmp_path_factory.mktemp("loopback")) as server:
        yield server


def _connection(port: int) -> dict[str, Any]:
    return {"name": "Loopback API", "configuration": {
        "allowed_hostnames": "localhost",
        "health_check_url": f"https://localhost:{port}/health",
        "health_check_method": "GET"},
        "secrets": {"authentication_headers": f"Authorization: Bearer {TOKEN}\n"
                                              f"X-Api-Key: {API_KEY}"}}


def test_net1_a_credential_reaches_its_allowed_host_and_no_other(
    served: Served, loopback_api: FakeServer, loopback_state: fake.State
) -> None:
    port = loopback_api.port
    created = served.create_connection("web_api", _connection(port))
    assert created.status_code == 201, created.text
    connection = created.json()["connection"]
    assert connection["health"]["status"] == "Healthy", connection["health"]
    assert any(seen["host"] == f"localhost:{port}" and seen["authorization"] == f"Bearer {TOKEN}"
               for seen in loopback_state.seen)

    run = served.run_workflow({"name": "call the loopback API", "steps": [
        {"id": "allowed", "action": "web_api.http_request", "connection": connection["id"],
         "with": {"url": f"https://localhost:{port}/items"}},
        {"id": "other", "action": "web_api.http_request", "connection": connection["id"],
         "with": {"url": f"https://127.0.0.1:{port}/items"}},
    ]}, title="loopback egress")
    allowed, other = run["steps"]
    assert allowed["status"] == "succeeded", allowed
    assert other["status"] == "failed", other
    assert "127.0.0.1" in other["error"] and "not" in other["error"]
    assert run["status"] == "failed"
    assert not [seen for seen in loopback_state.seen if seen["host"].startswith("127.0.0.1")]


def test_net3_without_allowed_private_networks_loopback_is_refused_at_connect_time(
    served_ca: trustme.CA, tmp_path: Path
) -> None:
    state = fake.State(token=TOKEN, api_key=API_KEY)  # its own: nothing else calls it
    with (serve(fake.make_app(state), served_ca, tmp_path) as api,
          Served.start({"FIRELINE_EGRESS_CA_BUNDLE": str(ca_bundle(served_ca))}) as strict):
        created = strict.create_connection("web_api", _connection(api.port))
        assert created.status_code == 201, created.text  # saved, and marked as it is
        health = created.json()["connection"]["health"]
    assert health["status"] == "Unhealthy"
    assert health["health_message"] == "localhost resolves to a denied address (127.0.0.1)"
    assert state.seen == []  # no connection was made
