from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.logzio import INTEGRATION
from fireline.integrations.logzio.schema import SearchLogsInput, SearchLogsOutput
from tests.integrations.fakes import logzio as fake
from tests.integrations.recording import assert_no_secret_in_urls, recording
from tests.integrations.support import FakeServer, serve, tool_context

TOKEN = "8f3c1d2e-1111-2222-3333-444455556666"
DOCS = [
    {"@timestamp": "2026-11-23T10:00:00Z", "level": "ERROR", "message": "payment failed"},
    {"@timestamp": "2026-11-23T10:01:00Z", "level": "INFO", "message": "payment ok"},
    {"@timestamp": "2026-11-23T10:02:00Z", "level": "ERROR", "message": "db timeout"},
    {"@timestamp": "2026-11-22T08:00:00Z", "level": "ERROR", "message": "yesterday"},
]


@pytest.fixture(scope="module")
def state() -> fake.LogzioState:
    return fake.LogzioState(TOKEN, "acme-prod", DOCS)


@pytest.fixture(scope="module")
def logz(
    state: fake.LogzioState, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    hosts = ("api.logz.io", "api-eu.logz.io")
    with serve(fake.make_app(state), ca, tmp_path_factory.mktemp("lz"), *hosts) as server:
        yield server


def _ctx(
    logz: FakeServer, ca: trustme.CA, *, region: str = "us", token: str = TOKEN
) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"region": region},
        secrets={"api_token": token},
        routes=logz.routes(443),
        ca=ca,
    )


@pytest.mark.parametrize("region", ["us", "eu"])
async def test_verify_healthy(logz: FakeServer, ca: trustme.CA, region: str) -> None:
    assert await INTEGRATION.verify(_ctx(logz, ca, region=region)) == (
        f"Connected to Logz.io account acme-prod ({region})"
    )


async def test_verify_wrong_token_is_a_credential_error(logz: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(CredentialError):
        await INTEGRATION.verify(_ctx(logz, ca, token="wrong-token"))


async def test_verify_unreachable_is_transient(logz: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(TransientError):
        await INTEGRATION.verify(_ctx(logz, ca, region="au"))  # not served: no route


@pytest.mark.parametrize(
    ("data", "messages"),
    [
        ({"query": "level:ERROR"}, ["db timeout", "payment failed", "yesterday"]),
        (
            {
                "query": "level:ERROR",
                "from_time": datetime(2026, 11, 23, tzinfo=UTC),
                "to_time": datetime(2026, 11, 23, 23, 59, tzinfo=UTC),
            },
            ["db timeout", "payment failed"],
        ),
        (
            {"query_type": "dsl", "query": json.dumps({"query": {"match": {"message": "ok"}}})},
            ["payment ok"],
        ),
        ({"query": "*", "size": 2}, ["db timeout", "payment ok"]),
    ],
)
async def test_search_logs(
    logz: FakeServer,
    ca: trustme.CA,
    state: fake.LogzioState,
    data: dict[str, object],
    messages: list[str],
) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None and action.idempotent
    output = await action.run(_ctx(logz, ca), SearchLogsInput(**data))  # type: ignore[arg-type]
    assert isinstance(output, SearchLogsOutput)
    assert [hit["_source"]["message"] for hit in output.hits] == messages
    assert output.total >= len(messages)
    assert state.bodies[-1]["sort"] == [{"@timestamp": {"order": "desc"}}]


async def test_search_logs_lucene_disables_leading_wildcards(
    logz: FakeServer, ca: trustme.CA, state: fake.LogzioState
) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    await action.run(_ctx(logz, ca), SearchLogsInput(query="level:INFO"))
    assert state.bodies[-1]["query"] == {
        "query_string": {"query": "level:INFO", "allow_leading_wildcard": False}
    }


async def test_search_logs_bad_dsl_is_a_clear_error(logz: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    with pytest.raises(PermanentError, match="JSON"):
        await action.run(_ctx(logz, ca), SearchLogsInput(query_type="dsl", query="{oops"))
    # Logz.io's own restriction, reported from its 400 body.
    dsl = json.dumps({"query_string": {"query": "*fail", "allow_leading_wildcard": True}})
    with pytest.raises(PermanentError, match="allow_leading_wildcard"):
        await action.run(_ctx(logz, ca), SearchLogsInput(query_type="dsl", query=dsl))


def test_search_logs_input_is_validated() -> None:
    with pytest.raises(ValidationError):
        SearchLogsInput(size=5000)
    with pytest.raises(ValidationError):
        SearchLogsInput(query_type="kql")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="before"):
        SearchLogsInput(
            from_time=datetime(2026, 11, 23, tzinfo=UTC), to_time=datetime(2026, 11, 22, tzinfo=UTC)
        )


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us", "api.logz.io"),
        ("eu", "api-eu.logz.io"),
        ("uk", "api-uk.logz.io"),
        ("au", "api-au.logz.io"),
        ("ca", "api-ca.logz.io"),
        ("nl", "api-nl.logz.io"),
        ("wa", "api-wa.logz.io"),
    ],
)
def test_net6_region_is_pinned_to_its_api_host(region: str, host: str) -> None:
    destination = INTEGRATION.destination(INTEGRATION.config.model_validate({"region": region}))
    assert destination.hosts == (host,) and destination.ports == (443,)
    assert INTEGRATION.credential_fields == ("region",)


def test_config_rejects_unknown_regions_and_urls() -> None:
    with pytest.raises(ValidationError, match="region"):
        INTEGRATION.config.model_validate({"region": "api.evil.example"})
    with pytest.raises(ValidationError):
        INTEGRATION.config.model_validate({"region": "us", "url": "https://evil.example"})


async def test_sec7_no_secret_in_any_url(logz: FakeServer, ca: trustme.CA) -> None:
    ctx, recorder = recording(_ctx(logz, ca))
    await INTEGRATION.verify(ctx)
    action = INTEGRATION.action("search_logs")
    assert action is not None
    await action.run(ctx, SearchLogsInput(query="level:ERROR"))
    assert_no_secret_in_urls(recorder, TOKEN)
