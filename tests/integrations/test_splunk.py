from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.splunk import INTEGRATION
from fireline.integrations.splunk.actions import spl
from fireline.integrations.splunk.client import authorization
from fireline.integrations.splunk.schema import SearchInput, SearchOutput
from tests.integrations.fakes import splunk as fake
from tests.integrations.support import FakeServer, serve, tool_context

HOST = "splunk.example.com"


def _jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'kid': 'splunk.secret', 'alg': 'HS512', 'ver': 'v2', 'ttyp': 'static'})}." + (
        f"{part(claims)}.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"
    )


TOKEN = _jwt({"iss": "admin from sh1", "sub": "pd-workflows", "aud": "fireline"})
SESSION_KEY = "qZ5b^d1OmwQxJl9mJ6Z0ZTkCq0k8Wq^3l1m5Fp8m4Zr2"
NOW = time.time()
EVENTS = [
    {"_time": NOW - 60, "_raw": "ERROR payment timeout order=17", "host": "web-1",
     "index": "main", "sourcetype": "app"},
    {"_time": NOW - 120, "_raw": "INFO payment ok order=16", "host": "web-1",
     "index": "main", "sourcetype": "app"},
    {"_time": NOW - 180, "_raw": "ERROR db connection refused", "host": "db-1",
     "index": "main", "sourcetype": "postgres"},
    {"_time": NOW - 7200, "_raw": "ERROR old failure", "host": "web-2",
     "index": "main", "sourcetype": "app"},
    {"_time": NOW - 30, "_raw": "ERROR audit denied", "host": "sec-1",
     "index": "security", "sourcetype": "audit"},
]  # fmt: skip


@pytest.fixture(scope="module")
def splunk(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    app = fake.make_app(
        token=TOKEN, session_key=SESSION_KEY, username="pd-workflows", events=EVENTS
    )
    with serve(app, ca, tmp_path_factory.mktemp("splunk"), HOST) as server:
        yield server


def _ctx(splunk: FakeServer, ca: trustme.CA, token: str = TOKEN) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"url": f"https://{HOST}:8089"},
        secrets={"authentication_token": token},
        routes=splunk.routes(8089),
        ca=ca,
    )


async def _search(ctx: ToolContext, **data: Any) -> SearchOutput:
    action = INTEGRATION.action("search")
    assert action is not None and action.idempotent
    output = await action.run(ctx, SearchInput.model_validate(data))
    assert isinstance(output, SearchOutput)
    return output


@pytest.mark.parametrize("token", [TOKEN, SESSION_KEY, f"Splunk {SESSION_KEY}", f"Bearer {TOKEN}"])
async def test_verify_healthy_with_a_token_or_a_session_key(
    splunk: FakeServer, ca: trustme.CA, token: str
) -> None:
    assert await INTEGRATION.verify(_ctx(splunk, ca, token)) == (
        "Authenticated to Splunk as pd-workflows"
    )


@pytest.mark.parametrize("token", [_jwt({"sub": "someone-else"}), "not-a-session-key-123"])
async def test_verify_wrong_token_is_a_credential_error(
    splunk: FakeServer, ca: trustme.CA, token: str
) -> None:
    with pytest.raises(CredentialError, match="call not properly authenticated"):
        await INTEGRATION.verify(_ctx(splunk, ca, token))


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(
        INTEGRATION,
        config={"url": f"https://{HOST}:8089"},
        secrets={"authentication_token": TOKEN},
        routes={},
        ca=ca,
    )
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


def test_authorization_schemes() -> None:
    assert authorization(TOKEN) == f"Bearer {TOKEN}"
    assert authorization(SESSION_KEY) == f"Splunk {SESSION_KEY}"
    assert authorization(f"Splunk {SESSION_KEY}") == f"Splunk {SESSION_KEY}"
    assert authorization(f"Bearer {TOKEN}") == f"Bearer {TOKEN}"


async def test_search_terms_and_fields(splunk: FakeServer, ca: trustme.CA) -> None:
    output = await _search(_ctx(splunk, ca), query="index=main ERROR")
    assert [r["_raw"] for r in output.results] == [
        "ERROR payment timeout order=17",
        "ERROR db connection refused",
    ]
    assert output.count == 2
    assert output.results[0]["host"] == "web-1"
    by_host = await _search(_ctx(splunk, ca), query="search index=main host=db-1")
    assert [r["_raw"] for r in by_host.results] == ["ERROR db connection refused"]


async def test_search_time_window_and_count(splunk: FakeServer, ca: trustme.CA) -> None:
    wide = await _search(_ctx(splunk, ca), query="index=main ERROR", earliest_time="-3h")
    assert wide.count == 3
    capped = await _search(_ctx(splunk, ca), query="index=main ERROR", earliest_time="-3h", count=1)
    assert [r["_raw"] for r in capped.results] == ["ERROR payment timeout order=17"]
    piped = await _search(_ctx(splunk, ca), query="| search index=main | head 2", latest_time="now")
    assert piped.count == 2


async def test_search_with_a_session_key(splunk: FakeServer, ca: trustme.CA) -> None:
    output = await _search(_ctx(splunk, ca, SESSION_KEY), query="index=security")
    assert [r["_raw"] for r in output.results] == ["ERROR audit denied"]


async def test_search_errors(splunk: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(PermanentError, match="Unknown search command"):
        await _search(_ctx(splunk, ca), query="index=main | frobnicate")
    with pytest.raises(CredentialError):
        await _search(_ctx(splunk, ca, "wrong-session-key"), query="index=main")


def test_spl_gets_an_implicit_search_command() -> None:
    assert spl("index=main error") == "search index=main error"
    assert spl("  search index=main") == "search index=main"
    assert spl("| tstats count where index=main") == "| tstats count where index=main"
    assert spl("SEARCH x") == "SEARCH x"


def test_search_input_validation() -> None:
    with pytest.raises(ValidationError):
        SearchInput(query="x", earliest_time="-1h; rm")
    with pytest.raises(ValidationError):
        SearchInput(query="x", count=0)
    with pytest.raises(ValidationError):
        SearchInput(query="")


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://splunk.example.com:8089", "splunk.example.com", 8089),
        ("https://acme.splunkcloud.com:8089/", "acme.splunkcloud.com", 8089),
        ("https://splunk.example.com", "splunk.example.com", 443),
    ],
)
def test_destination_is_the_instance(url: str, host: str, port: int) -> None:
    config = INTEGRATION.config.model_validate({"url": url})
    destination = INTEGRATION.destination(config)
    assert (destination.hosts, destination.ports) == ((host,), (port,))
    assert INTEGRATION.credential_fields == ("url",)


@pytest.mark.parametrize(
    "url", ["http://splunk.example.com:8089", "https://u:p@splunk.example.com", "splunk:8089"]
)
def test_config_validation(url: str) -> None:
    with pytest.raises(ValidationError):
        INTEGRATION.config.model_validate({"url": url})


def test_token_validation_never_echoes_the_token() -> None:
    with pytest.raises(ValidationError, match="printable") as caught:
        INTEGRATION.secrets.model_validate({"authentication_token": "tok-secret\nX: y"})
    assert "tok-secret" not in str(caught.value)
