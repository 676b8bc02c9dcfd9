from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.sumo_logic import INTEGRATION
from fireline.integrations.sumo_logic.schema import SearchLogsInput, SearchLogsOutput
from tests.integrations.fakes import sumo_logic as fake
from tests.integrations.recording import assert_no_secret_in_urls, recording
from tests.integrations.support import FakeServer, serve, tool_context

ACCESS_ID = "suABCDEFGHIJKL"
ACCESS_KEY = "pretendAccessKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
EU_ID = "suEUROPEACCOUNT"
BASE = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _message(minutes: int, raw: str, category: str, host: str) -> dict[str, str]:
    stamp = int((BASE + timedelta(minutes=minutes)).timestamp() * 1000)
    return {
        "_messagetime": str(stamp),
        "_raw": raw,
        "_sourcecategory": category,
        "_sourcehost": host,
    }


MESSAGES = [
    _message(0, "ERROR payment failed order=42", "prod/checkout", "web-1"),
    _message(1, "INFO payment ok order=43", "prod/checkout", "web-1"),
    _message(2, "ERROR db timeout", "prod/ledger", "db-1"),
    _message(3, "ERROR payment failed order=44", "prod/checkout", "web-2"),
    _message(-120, "ERROR too old", "prod/checkout", "web-1"),
]


@pytest.fixture
def state() -> fake.SumoState:
    return fake.SumoState(
        accounts={
            ACCESS_ID: fake.Account(ACCESS_KEY, "api.sumologic.com"),
            EU_ID: fake.Account(ACCESS_KEY, "api.eu.sumologic.com"),
        },
        messages=MESSAGES,
    )


@pytest.fixture
def sumo(
    state: fake.SumoState, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    hosts = ("api.sumologic.com", "api.eu.sumologic.com")
    with serve(fake.make_app(state), ca, tmp_path_factory.mktemp("sumo"), *hosts) as server:
        yield server


def _ctx(
    sumo: FakeServer,
    ca: trustme.CA,
    *,
    deployment: str = "US1",
    access_id: str = ACCESS_ID,
    key: str = ACCESS_KEY,
) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"deployment": deployment},
        secrets={"access_id": access_id, "access_key": key},
        routes=sumo.routes(443),
        ca=ca,
    )


async def test_verify_healthy(sumo: FakeServer, ca: trustme.CA) -> None:
    assert await INTEGRATION.verify(_ctx(sumo, ca)) == "Access key accepted by Sumo Logic US1"
    assert await INTEGRATION.verify(_ctx(sumo, ca, deployment="EU", access_id=EU_ID)) == (
        "Access key accepted by Sumo Logic EU"
    )


async def test_verify_wrong_key_is_a_credential_error(sumo: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(CredentialError):
        await INTEGRATION.verify(_ctx(sumo, ca, key="wrong-key"))


async def test_verify_wrong_deployment_is_a_clear_error_not_a_redirect(
    sumo: FakeServer, ca: trustme.CA
) -> None:
    with pytest.raises(PermanentError, match="not on the US1 deployment"):
        await INTEGRATION.verify(_ctx(sumo, ca, access_id=EU_ID))


async def test_verify_unreachable_is_transient(sumo: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(TransientError):
        await INTEGRATION.verify(_ctx(sumo, ca, deployment="JP"))  # not served: no route


async def test_search_logs_runs_a_job_with_cookies_and_deletes_it(
    sumo: FakeServer, ca: trustme.CA, state: fake.SumoState
) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None and action.idempotent
    data = SearchLogsInput(
        query="_sourceCategory=prod/checkout payment failed",
        from_time=BASE - timedelta(minutes=5),
        to_time=BASE + timedelta(minutes=10),
    )
    output = await action.run(_ctx(sumo, ca), data)
    assert isinstance(output, SearchLogsOutput)
    assert output.state == "DONE GATHERING RESULTS"
    assert output.message_count == 2
    assert [m["_raw"] for m in output.messages] == [
        "ERROR payment failed order=42",
        "ERROR payment failed order=44",
    ]
    assert output.record_count == 0 and output.records == []
    (body,) = state.created_bodies
    assert body["from"] == int((BASE - timedelta(minutes=5)).timestamp() * 1000)
    assert body["timeZone"] == "UTC" and body["requiresRawMessages"] is True
    assert len(state.deleted) == 1 and state.jobs == {}


async def test_search_logs_aggregate_returns_records_and_respects_limit(
    sumo: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    window = {"from_time": BASE - timedelta(minutes=5), "to_time": BASE + timedelta(minutes=10)}
    output = await action.run(
        _ctx(sumo, ca), SearchLogsInput(query="ERROR | count by _sourcehost", limit=2, **window)
    )
    assert output.message_count == 3 and len(output.messages) == 2
    assert output.records == [
        {"_sourcehost": "db-1", "_count": "1"},
        {"_sourcehost": "web-1", "_count": "1"},
    ]


async def test_search_logs_with_wrong_key_is_a_credential_error(
    sumo: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    with pytest.raises(CredentialError):
        await action.run(_ctx(sumo, ca, key="wrong"), SearchLogsInput(query="error"))


def test_search_logs_input_is_validated() -> None:
    with pytest.raises(ValidationError, match="before"):
        SearchLogsInput(query="error", from_time=BASE, to_time=BASE - timedelta(minutes=1))
    with pytest.raises(ValidationError):
        SearchLogsInput(query="")
    with pytest.raises(ValidationError):
        SearchLogsInput(query="x", limit=100_000)
    start, end = SearchLogsInput(query="error").window()
    assert end - start == timedelta(minutes=15)
    start, end = SearchLogsInput(query="error", to_time=BASE).window()
    assert (start, end) == (BASE - timedelta(minutes=15), BASE)


@pytest.mark.parametrize(
    ("deployment", "host"),
    [
        ("US1", "api.sumologic.com"),
        ("US2", "api.us2.sumologic.com"),
        ("CA", "api.ca.sumologic.com"),
        ("FED", "api.fed.sumologic.com"),
        ("EU", "api.eu.sumologic.com"),
        ("DE", "api.de.sumologic.com"),
        ("AU", "api.au.sumologic.com"),
        ("JP", "api.jp.sumologic.com"),
        ("IN", "api.in.sumologic.com"),
    ],
)
def test_net6_deployment_is_pinned_to_its_api_host(deployment: str, host: str) -> None:
    config = INTEGRATION.config.model_validate({"deployment": deployment})
    assert INTEGRATION.destination(config).hosts == (host,)
    assert INTEGRATION.credential_fields == ("deployment",)


def test_config_defaults_to_us1_and_rejects_unknown_deployments() -> None:
    assert INTEGRATION.config.model_validate({}).deployment == "US1"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="deployment"):
        INTEGRATION.config.model_validate({"deployment": "KR"})


async def test_search_job_cookies_are_carried_without_a_client_cookie_jar(
    sumo: FakeServer, ca: trustme.CA, state: fake.SumoState
) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    # The guarded client keeps no cookie jar: cookies survive only if the integration
    # carries them itself.
    ctx = _ctx(sumo, ca)
    window = {"from_time": BASE - timedelta(minutes=5), "to_time": BASE + timedelta(minutes=10)}
    output = await action.run(ctx, SearchLogsInput(query="db timeout", **window))
    assert [m["_raw"] for m in output.messages] == ["ERROR db timeout"]
    assert len(state.deleted) == 1


async def test_sec7_no_secret_in_any_url(sumo: FakeServer, ca: trustme.CA) -> None:
    ctx, recorder = recording(_ctx(sumo, ca))
    await INTEGRATION.verify(ctx)
    action = INTEGRATION.action("search_logs")
    assert action is not None
    window = {"from_time": BASE - timedelta(minutes=5), "to_time": BASE + timedelta(minutes=10)}
    await action.run(ctx, SearchLogsInput(query="error", **window))
    assert_no_secret_in_urls(recorder, ACCESS_ID, ACCESS_KEY, f"{ACCESS_ID}:{ACCESS_KEY}")
