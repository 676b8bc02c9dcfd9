from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.datadog import INTEGRATION
from fireline.integrations.datadog.schema import (
    SITE_HOSTS,
    QueryMetricsInput,
    QueryMetricsOutput,
    SearchLogsInput,
    SearchLogsOutput,
)
from tests.integrations.fakes import datadog as fake
from tests.integrations.recording import assert_no_secret_in_urls, recording
from tests.integrations.support import FakeServer, serve, tool_context

API_KEY = "0123456789abcdef0123456789abcdef"
APP_KEY = "fedcba9876543210fedcba9876543210fedcba98"
NOW = datetime.now(UTC).replace(microsecond=0)


def _log(i: int, status: str, service: str, message: str, minutes_ago: int) -> dict[str, object]:
    stamp = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "id": f"AQAAAY{i:04d}",
        "attributes": {
            "timestamp": stamp,
            "status": status,
            "service": service,
            "host": "web-1",
            "message": message,
            "tags": [f"service:{service}", "env:prod"],
        },
    }


LOGS = [
    _log(1, "error", "checkout", "payment failed", 1),
    _log(2, "info", "checkout", "payment ok", 2),
    _log(3, "error", "ledger", "db timeout", 3),
    _log(4, "error", "ledger", "db timeout again", 4),
    _log(5, "error", "ledger", "old failure", 120),
]
T0 = int((NOW - timedelta(minutes=30)).timestamp()) * 1000
SERIES = [
    {
        "metric": "system.cpu.user",
        "tags": ["host:web-1"],
        "points": [[T0, 10.0], [T0 + 60000, 30.0]],
    },
    {
        "metric": "system.cpu.user",
        "tags": ["host:web-2"],
        "points": [[T0, 50.0], [T0 + 60000, 70.0]],
    },
]


@pytest.fixture(scope="module")
def state() -> fake.DatadogState:
    return fake.DatadogState(API_KEY, APP_KEY, LOGS, SERIES)


@pytest.fixture(scope="module")
def dd(
    state: fake.DatadogState, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    hosts = ("api.datadoghq.com", "api.datadoghq.eu")
    with serve(fake.make_app(state), ca, tmp_path_factory.mktemp("dd"), *hosts) as server:
        yield server


def _ctx(
    dd: FakeServer, ca: trustme.CA, *, site: str = "US1", api: str = API_KEY, app: str = APP_KEY
) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"site": site},
        secrets={"api_key": api, "application_key": app},
        routes=dd.routes(443),
        ca=ca,
    )


async def test_verify_healthy_checks_both_keys(dd: FakeServer, ca: trustme.CA) -> None:
    assert await INTEGRATION.verify(_ctx(dd, ca)) == (
        "API key and application key are valid on Datadog US1"
    )
    assert await INTEGRATION.verify(_ctx(dd, ca, site="EU1")) == (
        "API key and application key are valid on Datadog EU1"
    )


@pytest.mark.parametrize(("api", "app"), [("wrong-api-key", APP_KEY), (API_KEY, "wrong-app-key")])
async def test_verify_wrong_key_is_a_credential_error(
    dd: FakeServer, ca: trustme.CA, api: str, app: str
) -> None:
    with pytest.raises(CredentialError):
        await INTEGRATION.verify(_ctx(dd, ca, api=api, app=app))


async def test_verify_unreachable_is_transient(dd: FakeServer, ca: trustme.CA) -> None:
    # US5 is not served by the fake: no route, exactly like an unreachable host.
    with pytest.raises(TransientError):
        await INTEGRATION.verify(_ctx(dd, ca, site="US5"))


async def test_search_logs_filters_and_follows_the_cursor(dd: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None and action.idempotent
    output = await action.run(
        _ctx(dd, ca), SearchLogsInput(query="status:error", from_time="now-1h", limit=5)
    )
    assert isinstance(output, SearchLogsOutput)
    assert [log["message"] for log in output.logs] == [
        "payment failed",
        "db timeout",
        "db timeout again",
    ]
    assert output.count == 3 and output.next_cursor is None
    assert output.logs[0]["id"] == "AQAAAY0001"


async def test_search_logs_pages_up_to_the_limit(
    dd: FakeServer, ca: trustme.CA, state: fake.DatadogState
) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    state.search_bodies.clear()
    first = await action.run(
        _ctx(dd, ca), SearchLogsInput(query="service:ledger timeout", from_time="now-1h", limit=1)
    )
    assert [log["message"] for log in first.logs] == ["db timeout"]
    assert first.next_cursor is not None
    second = await action.run(
        _ctx(dd, ca),
        SearchLogsInput(
            query="service:ledger timeout", from_time="now-1h", limit=5, cursor=first.next_cursor
        ),
    )
    assert [log["message"] for log in second.logs] == ["db timeout again"]
    assert second.next_cursor is None
    assert state.search_bodies[0] == {
        "filter": {"query": "service:ledger timeout", "from": "now-1h", "to": "now"},
        "sort": "-timestamp",
        "page": {"limit": 1},
    }
    assert state.search_bodies[1]["page"]["cursor"] == first.next_cursor


async def test_search_logs_page_limit_is_capped_at_1000(
    dd: FakeServer, ca: trustme.CA, state: fake.DatadogState
) -> None:
    action = INTEGRATION.action("search_logs")
    assert action is not None
    state.search_bodies.clear()
    output = await action.run(_ctx(dd, ca), SearchLogsInput(from_time="now-1d", limit=2500))
    assert output.count == len(LOGS)
    assert state.search_bodies[0]["page"] == {"limit": 1000}


async def test_query_metrics(dd: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("query_metrics")
    assert action is not None and action.idempotent
    window = {"from_time": NOW - timedelta(hours=1), "to_time": NOW}
    output = await action.run(
        _ctx(dd, ca), QueryMetricsInput(query="avg:system.cpu.user{*}", **window)
    )
    assert isinstance(output, QueryMetricsOutput)
    (series,) = output.series
    assert series.metric == "system.cpu.user"
    assert series.points == [(float(T0), 30.0), (float(T0 + 60000), 50.0)]
    one_host = await action.run(
        _ctx(dd, ca), QueryMetricsInput(query="max:system.cpu.user{host:web-2}", **window)
    )
    assert [value for _, value in one_host.series[0].points] == [50.0, 70.0]
    with pytest.raises(PermanentError, match="parsing"):
        await action.run(_ctx(dd, ca), QueryMetricsInput(query="not a query", **window))


def test_action_inputs_are_validated() -> None:
    with pytest.raises(ValidationError):
        SearchLogsInput(limit=0)
    with pytest.raises(ValidationError):
        SearchLogsInput(sort="newest")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="before"):
        QueryMetricsInput(query="avg:x{*}", from_time=NOW, to_time=NOW - timedelta(hours=1))


@pytest.mark.parametrize(
    ("site", "host"),
    [
        ("US1", "api.datadoghq.com"),
        ("US3", "api.us3.datadoghq.com"),
        ("US5", "api.us5.datadoghq.com"),
        ("EU1", "api.datadoghq.eu"),
        ("AP1", "api.ap1.datadoghq.com"),
        ("AP2", "api.ap2.datadoghq.com"),
        ("UK1", "api.uk1.datadoghq.com"),
        ("US1-FED", "api.ddog-gov.com"),
        ("US2-FED", "api.us2.ddog-gov.com"),
    ],
)
def test_net6_each_site_is_pinned_to_its_api_host(site: str, host: str) -> None:
    destination = INTEGRATION.destination(INTEGRATION.config.model_validate({"site": site}))
    assert destination.hosts == (host,)
    assert destination.ports == (443,)
    assert SITE_HOSTS[site] == host


def test_config_defaults_to_us1_and_rejects_unknown_sites() -> None:
    assert INTEGRATION.config.model_validate({}).site == "US1"  # type: ignore[attr-defined]
    assert INTEGRATION.credential_fields == ("site",)
    with pytest.raises(ValidationError, match="site"):
        INTEGRATION.config.model_validate({"site": "evil.example.com"})
    with pytest.raises(ValidationError):
        INTEGRATION.config.model_validate({"url": "https://api.datadoghq.com"})


async def test_sec7_no_secret_in_any_url(dd: FakeServer, ca: trustme.CA) -> None:
    ctx, recorder = recording(_ctx(dd, ca))
    await INTEGRATION.verify(ctx)
    for name, data in (
        ("search_logs", SearchLogsInput(from_time="now-1h")),
        (
            "query_metrics",
            QueryMetricsInput(
                query="avg:system.cpu.user{*}", from_time=NOW - timedelta(hours=1), to_time=NOW
            ),
        ),
    ):
        action = INTEGRATION.action(name)
        assert action is not None
        await action.run(ctx, data)
    assert_no_secret_in_urls(recorder, API_KEY, APP_KEY)
