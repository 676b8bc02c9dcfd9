from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.dynatrace import INTEGRATION
from fireline.integrations.dynatrace.schema import SearchLogsInput, SearchLogsOutput
from tests.integrations.fakes import dynatrace as fake
from tests.integrations.recording import assert_no_secret_in_urls, recording
from tests.integrations.support import FakeServer, serve, tool_context

CLIENT_ID = "dt0s02.SAMPLECLIENTID"
CLIENT_SECRET = "dt0s02.SAMPLECLIENTID.SECRETPARTOFTHECLIENTSECRET"
ACCOUNT = "6c9a2d1e-35b8-4c8f-9d7e-0a1b2c3d4e5f"
SAAS_URL = "https://abc12345.live.dynatrace.com"
MANAGED_URL = "https://activegate.example.com:9999/e/6f1c2d3e-aaaa-bbbb-cccc-0123456789ab"
RECORDS = [
    {"timestamp": "2026-11-23T10:00:00Z", "loglevel": "ERROR", "content": "payment failed"},
    {"timestamp": "2026-11-23T10:01:00Z", "loglevel": "INFO", "content": "payment ok"},
    {"timestamp": "2026-11-23T10:02:00Z", "loglevel": "ERROR", "content": "db timeout"},
    {"timestamp": "2026-11-22T09:00:00Z", "loglevel": "ERROR", "content": "yesterday's timeout"},
]


@pytest.fixture
def state() -> fake.DynatraceState:
    return fake.DynatraceState(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        account_uuid=ACCOUNT,
        scopes=frozenset({"storage:logs:read", "storage:buckets:read"}),
        records=RECORDS,
    )


@pytest.fixture
def dt(
    state: fake.DynatraceState, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    hosts = ("sso.dynatrace.com", "abc12345.apps.dynatrace.com", "activegate.example.com")
    with serve(fake.make_app(state), ca, tmp_path_factory.mktemp("dt"), *hosts) as server:
        yield server


def _ctx(
    dt: FakeServer,
    ca: trustme.CA,
    *,
    url: str = SAAS_URL,
    kind: str = "saas",
    secret: str = CLIENT_SECRET,
    account: str | None = None,
) -> ToolContext:
    config: dict[str, Any] = {"environment_type": kind, "environment_url": url}
    if account is not None:
        config["oauth2_account_uuid"] = account
    return tool_context(
        INTEGRATION,
        config=config,
        secrets={"oauth2_client_id": CLIENT_ID, "oauth_client_secret": secret},
        routes={**dt.routes(443), **dt.routes(9999)},
        ca=ca,
    )


async def test_verify_requests_a_client_credentials_token(
    dt: FakeServer, ca: trustme.CA, state: fake.DynatraceState
) -> None:
    message = await INTEGRATION.verify(_ctx(dt, ca, account=f"urn:dtaccount:{ACCOUNT}"))
    assert message.startswith("Dynatrace SSO issued an access token for the configured account")
    (form,) = state.token_requests
    assert form == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": "storage:logs:read storage:buckets:read",
        "resource": f"urn:dtaccount:{ACCOUNT}",
    }


async def test_verify_without_account_sends_no_resource(
    dt: FakeServer, ca: trustme.CA, state: fake.DynatraceState
) -> None:
    await INTEGRATION.verify(_ctx(dt, ca))
    assert "resource" not in state.token_requests[0]


async def test_sec5_wrong_secret_is_a_credential_error_with_scrubbed_description(
    dt: FakeServer, ca: trustme.CA
) -> None:
    assert INTEGRATION.verify_blocks_save
    with pytest.raises(CredentialError) as caught:
        await INTEGRATION.verify(_ctx(dt, ca, secret="dt0s02.SAMPLECLIENTID.WRONGWRONGWRONG"))
    message = str(caught.value)
    assert "invalid_client" in message and "Client authentication failed" in message
    assert CLIENT_ID not in message and "WRONGWRONGWRONG" not in message


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(
        INTEGRATION,
        config={"environment_type": "saas", "environment_url": SAAS_URL},
        secrets={"oauth2_client_id": CLIENT_ID, "oauth_client_secret": CLIENT_SECRET},
        routes={},
        ca=ca,
    )
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


@pytest.mark.parametrize(
    ("query", "contents"),
    [
        ('fetch logs | filter loglevel == "ERROR"', {"payment failed", "db timeout"}),
        ('fetch logs | filter content contains "payment"', {"payment failed", "payment ok"}),
        ('fetch logs | filter loglevel == "ERROR" | limit 1', {"payment failed"}),
    ],
)
async def test_search_logs_executes_and_polls_until_succeeded(
    dt: FakeServer, ca: trustme.CA, state: fake.DynatraceState, query: str, contents: set[str]
) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None and action.idempotent
    data = SearchLogsInput(
        query=query,
        timeframe_start=datetime(2026, 11, 23, 0, 0, tzinfo=UTC),
        timeframe_end=datetime(2026, 11, 23, 23, 59, tzinfo=UTC),
        max_records=50,
    )
    output = await action.run(_ctx(dt, ca), data)
    assert isinstance(output, SearchLogsOutput)
    assert output.state == "SUCCEEDED"
    assert {record["content"] for record in output.records} == contents
    assert output.record_count == len(contents)
    (body,) = state.execute_bodies
    assert body["query"] == query
    assert body["defaultTimeframeStart"] == "2026-11-23T00:00:00Z"
    assert body["defaultTimeframeEnd"] == "2026-11-23T23:59:00Z"
    assert body["maxResultRecords"] == 50
    # Two polls (RUNNING, then SUCCEEDED) with the exact request token, `+/=` included.
    assert len(state.poll_tokens) == 2
    assert all(token.endswith("+/=") and token in state.queries for token in state.poll_tokens)


async def test_search_logs_respects_max_records(dt: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    output = await action.run(_ctx(dt, ca), SearchLogsInput(query="fetch logs", max_records=2))
    assert output.record_count == 2


async def test_search_logs_on_managed_environment(dt: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    ctx = _ctx(dt, ca, url=MANAGED_URL, kind="managed")
    output = await action.run(ctx, SearchLogsInput(query='fetch logs | filter loglevel == "INFO"'))
    assert [record["content"] for record in output.records] == ["payment ok"]


async def test_search_logs_bad_dql_is_permanent(dt: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    with pytest.raises(PermanentError, match="PARSE_ERROR"):
        await action.run(_ctx(dt, ca), SearchLogsInput(query="fetch spans"))


async def test_search_logs_takes_an_immediate_result(
    dt: FakeServer, ca: trustme.CA, state: fake.DynatraceState
) -> None:
    state.immediate = True
    action = INTEGRATION.action("search_logs")
    assert action is not None
    output = await action.run(_ctx(dt, ca), SearchLogsInput(query="fetch logs | limit 2"))
    assert output.state == "SUCCEEDED" and output.record_count == 2
    assert state.poll_tokens == []


async def test_search_logs_that_never_finishes_is_cancelled_and_transient(
    dt: FakeServer, ca: trustme.CA, state: fake.DynatraceState
) -> None:
    state.never_finish = True
    action = INTEGRATION.action("search_logs")
    assert action is not None
    with pytest.raises(TransientError, match="did not finish"):
        await action.run(_ctx(dt, ca), SearchLogsInput(query="fetch logs"))
    assert len(state.cancelled) == 1 and state.queries == {}
    assert len(state.poll_tokens) > 1  # bounded polling happened before giving up


def test_search_logs_input_is_validated() -> None:
    with pytest.raises(ValidationError):
        SearchLogsInput(query="")
    with pytest.raises(ValidationError, match="before"):
        SearchLogsInput(
            query="fetch logs",
            timeframe_start=datetime(2026, 11, 23, tzinfo=UTC),
            timeframe_end=datetime(2026, 11, 22, tzinfo=UTC),
        )
    with pytest.raises(ValidationError):
        SearchLogsInput(query="fetch logs", extra="x")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("kind", "url", "hosts", "ports"),
    [
        ("saas", SAAS_URL, ("sso.dynatrace.com", "abc12345.apps.dynatrace.com"), (443,)),
        (
            "saas",
            "https://abc12345.apps.dynatrace.com/",
            ("sso.dynatrace.com", "abc12345.apps.dynatrace.com"),
            (443,),
        ),
        ("managed", MANAGED_URL, ("sso.dynatrace.com", "activegate.example.com"), (443, 9999)),
        (
            "managed",
            "https://dynatrace.example.com/e/abc-123",
            ("sso.dynatrace.com", "dynatrace.example.com"),
            (443,),
        ),
    ],
)
def test_net6_destination_is_sso_and_the_environment_host(
    kind: str, url: str, hosts: tuple[str, ...], ports: tuple[int, ...]
) -> None:
    config = INTEGRATION.config.model_validate({"environment_type": kind, "environment_url": url})
    destination = INTEGRATION.destination(config)
    assert destination.hosts == hosts
    assert destination.ports == ports
    assert set(INTEGRATION.credential_fields) == {"environment_type", "environment_url"}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"environment_type": "saas", "environment_url": MANAGED_URL}, "SaaS Environment URL"),
        ({"environment_type": "managed", "environment_url": SAAS_URL}, "Managed/ActiveGate"),
        (
            {"environment_type": "saas", "environment_url": "http://abc12345.live.dynatrace.com"},
            "https",
        ),
        (
            {"environment_type": "saas", "environment_url": "https://abc.live.dynatrace.com.x.io"},
            "SaaS Environment URL",
        ),
        (
            {"environment_type": "managed", "environment_url": "https://ag.example.com:8443/e/x1y"},
            "port 443 or 9999",
        ),
        (
            {
                "environment_type": "saas",
                "environment_url": SAAS_URL,
                "oauth2_account_uuid": "not-a-uuid",
            },
            "UUID",
        ),
        ({"environment_type": "cloud", "environment_url": SAAS_URL}, "environment_type"),
    ],
)
def test_config_validation_errors_are_clear(config: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        INTEGRATION.config.model_validate(config)


def test_account_uuid_is_normalized() -> None:
    for value in (ACCOUNT, f"urn:dtaccount:{ACCOUNT}", f"  urn:dtaccount:{ACCOUNT.upper()} "):
        config = INTEGRATION.config.model_validate(
            {"environment_type": "saas", "environment_url": SAAS_URL, "oauth2_account_uuid": value}
        )
        assert config.oauth2_account_uuid == ACCOUNT


async def test_sec7_no_secret_in_any_url(dt: FakeServer, ca: trustme.CA) -> None:
    ctx, recorder = recording(_ctx(dt, ca, account=ACCOUNT))
    await INTEGRATION.verify(ctx)
    action = INTEGRATION.action("search_logs")
    assert action is not None
    await action.run(ctx, SearchLogsInput(query="fetch logs"))
    assert_no_secret_in_urls(recorder, CLIENT_ID, CLIENT_SECRET)
