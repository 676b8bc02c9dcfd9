from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.datadog import INTEGRATION, actions
from fireline.integrations.datadog.schema import (
    SITE_HOSTS,
    CreateGraphSnapshotInput,
    GetAlertingMonitorsInput,
    GetAlertingMonitorsOutput,
    GetMonitorInput,
    GraphSnapshotOutput,
    MonitorOutput,
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


TRIGGERED = int((NOW - timedelta(minutes=5)).timestamp())
CREATOR = {"name": "Ada Lovelace", "handle": "ada@example.com", "email": "ada@example.com"}


def _monitor(
    monitor_id: int, name: str, kind: str, overall: str, tags: list[str], **extra: object
) -> dict[str, object]:
    return {
        "id": monitor_id, "org_id": 321813, "name": name, "type": kind,
        "query": f"avg(last_5m):avg:system.cpu.user{{{tags[0]}}} > 90",
        "message": f"{name} @pagerduty", "tags": tags, "overall_state": overall,
        "priority": 2, "multi": False, "options": {"thresholds": {"critical": 90}},
        "created": "2026-11-01T10:00:00.000000+00:00",
        "modified": "2026-11-02T10:00:00.000000+00:00", "deleted": None,
        "creator": CREATOR, **extra,
    }


CHECKOUT = _monitor(
    1001, "Checkout CPU high", "metric alert", "Alert", ["service:checkout", "env:prod"],
    multi=True,
    state={"groups": {
        "host:web-1": {"name": "host:web-1", "status": "Alert", "last_triggered_ts": TRIGGERED,
                       "last_notified_ts": TRIGGERED, "last_resolved_ts": 0,
                       "last_nodata_ts": 0},
        "host:web-2": {"name": "host:web-2", "status": "OK", "last_triggered_ts": 0,
                       "last_notified_ts": 0, "last_resolved_ts": TRIGGERED - 600,
                       "last_nodata_ts": 0},
    }},
)
MONITORS = [
    CHECKOUT,
    _monitor(1002, "Ledger error logs", "log alert", "Alert", ["service:ledger", "env:prod"]),
    _monitor(1003, "Disk space low", "metric alert", "OK", ["service:ledger", "env:prod"]),
    _monitor(1004, "Checkout staging", "query alert", "Alert", ["service:checkout", "env:stg"]),
    _monitor(1005, "Queue depth", "metric alert", "Warn", ["service:queue", "env:prod"]),
]
DOWNTIMES = [{"id": 77, "monitor_id": 1001, "scope": ["host:web-2"], "start": TRIGGERED,
              "end": None, "active": True}]


@pytest.fixture(scope="module")
def state() -> fake.DatadogState:
    return fake.DatadogState(
        API_KEY, APP_KEY, LOGS, SERIES, monitors=MONITORS, downtimes=DOWNTIMES
    )


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
        ("get_monitor", GetMonitorInput(monitor_id=1001, group_states=["all"])),
        ("get_alerting_monitors", GetAlertingMonitorsInput()),
        ("create_graph_snapshot", CreateGraphSnapshotInput(metric_query="avg:x{*}")),
    ):
        action = INTEGRATION.action(name)
        assert action is not None
        await action.run(ctx, data)
    assert_no_secret_in_urls(recorder, API_KEY, APP_KEY)


async def test_get_monitor_details_with_alerting_groups_and_downtimes(
    dd: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("get_monitor")
    assert action is not None and action.idempotent
    assert action.title == "Get Monitor Details"
    output = await action.run(
        _ctx(dd, ca),
        GetMonitorInput(monitor_id=1001, group_states=["alert"], with_downtimes=True),
    )
    assert isinstance(output, MonitorOutput)
    monitor = output.monitor
    assert (monitor.id, monitor.name, monitor.type) == (1001, "Checkout CPU high", "metric alert")
    assert (monitor.overall_state, monitor.priority, monitor.multi) == ("Alert", 2, True)
    assert monitor.query == "avg(last_5m):avg:system.cpu.user{service:checkout} > 90"
    assert monitor.tags == ["service:checkout", "env:prod"]
    assert monitor.creator == "ada@example.com"
    assert monitor.url == "https://app.datadoghq.com/monitors/1001"
    (group,) = monitor.groups
    assert (group.name, group.status, group.last_triggered_ts) == (
        "host:web-1", "Alert", TRIGGERED)
    assert [d["id"] for d in monitor.matching_downtimes] == [77]


async def test_get_monitor_asks_for_groups_and_downtimes_only_when_told(
    dd: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("get_monitor")
    assert action is not None
    ctx, recorder = recording(_ctx(dd, ca, site="EU1"))
    output = await action.run(ctx, GetMonitorInput(monitor_id=1001))
    assert isinstance(output, MonitorOutput)
    assert recorder.urls == ["https://api.datadoghq.eu/api/v1/monitor/1001"]
    assert output.monitor.groups == [] and output.monitor.matching_downtimes == []
    assert output.monitor.url == "https://app.datadoghq.eu/monitors/1001"
    every = await action.run(ctx, GetMonitorInput(monitor_id=1001, group_states=["all"]))
    assert isinstance(every, MonitorOutput)
    assert [g.name for g in every.monitor.groups] == ["host:web-1", "host:web-2"]


async def test_get_monitor_unknown_id_quotes_datadog(dd: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("get_monitor")
    assert action is not None
    with pytest.raises(PermanentError) as caught:
        await action.run(_ctx(dd, ca), GetMonitorInput(monitor_id=999))
    assert type(caught.value) is PermanentError
    assert str(caught.value) == (
        "Datadog answered HTTP 404 to GET /api/v1/monitor/999: Monitor not found"
    )


async def test_get_monitor_wrong_application_key_is_a_credential_error(
    dd: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("get_monitor")
    assert action is not None
    with pytest.raises(CredentialError, match=r"HTTP 403 .*: Forbidden"):
        await action.run(_ctx(dd, ca, app="wrong-app-key"), GetMonitorInput(monitor_id=1001))


async def test_get_alerting_monitors_searches_status_alert_with_the_filter(
    dd: FakeServer, ca: trustme.CA, state: fake.DatadogState
) -> None:
    action = INTEGRATION.action("get_alerting_monitors")
    assert action is not None and action.idempotent
    state.monitor_searches.clear()
    everything = await action.run(_ctx(dd, ca), GetAlertingMonitorsInput())
    assert isinstance(everything, GetAlertingMonitorsOutput)
    assert [m.id for m in everything.monitors] == [1001, 1002, 1004]
    assert everything.count == everything.total_count == 3
    assert state.monitor_searches == [{"query": "status:alert", "page": "0", "per_page": "100"}]

    prod = await action.run(_ctx(dd, ca), GetAlertingMonitorsInput(query='tag:"env:prod"'))
    assert isinstance(prod, GetAlertingMonitorsOutput)
    assert [(m.id, m.status) for m in prod.monitors] == [(1001, "Alert"), (1002, "Alert")]
    first = prod.monitors[0]
    assert (first.name, first.type, first.priority) == ("Checkout CPU high", "metric alert", 2)
    assert first.last_triggered_ts == TRIGGERED
    assert first.url == "https://app.datadoghq.com/monitors/1001"
    assert prod.monitors[1].last_triggered_ts is None
    logs = await action.run(_ctx(dd, ca), GetAlertingMonitorsInput(query="type:log"))
    assert isinstance(logs, GetAlertingMonitorsOutput)
    assert [m.name for m in logs.monitors] == ["Ledger error logs"]


async def test_get_alerting_monitors_follows_pages_up_to_the_limit(
    dd: FakeServer, ca: trustme.CA, state: fake.DatadogState, monkeypatch: pytest.MonkeyPatch
) -> None:
    action = INTEGRATION.action("get_alerting_monitors")
    assert action is not None
    monkeypatch.setattr(actions, "_MONITOR_PAGE", 2)
    state.monitor_searches.clear()
    capped = await action.run(_ctx(dd, ca), GetAlertingMonitorsInput(limit=1))
    assert isinstance(capped, GetAlertingMonitorsOutput)
    assert ([m.id for m in capped.monitors], capped.total_count) == ([1001], 3)
    assert [(q["page"], q["per_page"]) for q in state.monitor_searches] == [("0", "1")]

    state.monitor_searches.clear()
    paged = await action.run(_ctx(dd, ca), GetAlertingMonitorsInput(limit=50))
    assert isinstance(paged, GetAlertingMonitorsOutput)
    assert [m.id for m in paged.monitors] == [1001, 1002, 1004]
    # Two pages of two: it stops at `metadata.page_count`, not at an empty page.
    assert [(q["page"], q["per_page"]) for q in state.monitor_searches] == [
        ("0", "2"), ("1", "2")]


async def test_get_alerting_monitors_bad_filter_quotes_datadog(
    dd: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("get_alerting_monitors")
    assert action is not None
    with pytest.raises(PermanentError, match="'paused' is not a valid monitor status"):
        await action.run(_ctx(dd, ca), GetAlertingMonitorsInput(query="status:paused"))


async def test_rate_limit_is_transient_with_the_reset_as_retry_after(
    dd: FakeServer, ca: trustme.CA, state: fake.DatadogState
) -> None:
    action = INTEGRATION.action("get_alerting_monitors")
    assert action is not None
    state.rate_limited = True
    try:
        with pytest.raises(TransientError, match=r"HTTP 429 .*Rate limit exceeded") as caught:
            await action.run(_ctx(dd, ca), GetAlertingMonitorsInput())
    finally:
        state.rate_limited = False
    assert caught.value.retry_after == 42.0


async def test_create_graph_snapshot_sends_the_window_in_epoch_seconds(
    dd: FakeServer, ca: trustme.CA, state: fake.DatadogState
) -> None:
    action = INTEGRATION.action("create_graph_snapshot")
    assert action is not None and action.idempotent
    state.snapshots.clear()
    start, end = NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    output = await action.run(
        _ctx(dd, ca),
        CreateGraphSnapshotInput(
            metric_query="avg:system.cpu.user{service:checkout}", start=start, end=end,
            event_query="sources:deploy", title="Checkout CPU",
        ),
    )
    assert isinstance(output, GraphSnapshotOutput)
    assert output.snapshot_url.startswith("https://p.datadoghq.com/snapshot/view/")
    assert output.snapshot_url.endswith(".png")
    assert output.metric_query == "avg:system.cpu.user{service:checkout}"
    assert (output.start, output.end) == (start, end)
    assert state.snapshots == [{
        "metric_query": "avg:system.cpu.user{service:checkout}",
        "start": str(int(start.timestamp())), "end": str(int(end.timestamp())),
        "event_query": "sources:deploy", "title": "Checkout CPU",
    }]


async def test_create_graph_snapshot_defaults_to_the_last_hour(
    dd: FakeServer, ca: trustme.CA, state: fake.DatadogState
) -> None:
    action = INTEGRATION.action("create_graph_snapshot")
    assert action is not None
    state.snapshots.clear()
    output = await action.run(
        _ctx(dd, ca), CreateGraphSnapshotInput(metric_query="avg:system.cpu.user{*}")
    )
    assert isinstance(output, GraphSnapshotOutput)
    assert output.end - output.start == timedelta(hours=1)
    assert abs((datetime.now(UTC) - output.end).total_seconds()) < 60
    (sent,) = state.snapshots
    assert int(sent["end"]) - int(sent["start"]) == 3600
    assert set(sent) == {"metric_query", "start", "end"}
    ends_only = await action.run(
        _ctx(dd, ca),
        CreateGraphSnapshotInput(metric_query="avg:system.cpu.user{*}", end=NOW),
    )
    assert isinstance(ends_only, GraphSnapshotOutput)
    assert ends_only.start == NOW - timedelta(hours=1)


async def test_create_graph_snapshot_bad_query_quotes_datadog(
    dd: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("create_graph_snapshot")
    assert action is not None
    with pytest.raises(PermanentError, match=r"HTTP 400 .*Error parsing query"):
        await action.run(_ctx(dd, ca), CreateGraphSnapshotInput(metric_query="not a query"))
    future = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(PermanentError, match="start must be before end"):
        await action.run(
            _ctx(dd, ca), CreateGraphSnapshotInput(metric_query="avg:x{*}", start=future)
        )


def test_monitor_and_snapshot_inputs_are_validated() -> None:
    with pytest.raises(ValidationError):
        GetMonitorInput(monitor_id=0)
    with pytest.raises(ValidationError):
        GetMonitorInput(monitor_id=1, group_states=["paused"])  # type: ignore[list-item]
    with pytest.raises(ValidationError):
        GetMonitorInput.model_validate({"monitor_id": 1, "monitor_tags": "x"})
    # The editor's text field: comma-separated, as Datadog's own parameter.
    typed = GetMonitorInput.model_validate({"monitor_id": 1, "group_states": "alert, no data"})
    assert typed.group_states == ["alert", "no data"]
    with pytest.raises(ValidationError):
        GetAlertingMonitorsInput(limit=0)
    with pytest.raises(ValidationError):
        GetAlertingMonitorsInput(limit=1001)
    with pytest.raises(ValidationError, match="before"):
        CreateGraphSnapshotInput(metric_query="avg:x{*}", start=NOW, end=NOW)
    with pytest.raises(ValidationError):
        CreateGraphSnapshotInput(metric_query="")
    naive = CreateGraphSnapshotInput(metric_query="avg:x{*}", start=datetime(2026, 11, 23, 10))
    assert naive.start == datetime(2026, 11, 23, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("site", "app"),
    [
        ("US1", "https://app.datadoghq.com"),
        ("US3", "https://us3.datadoghq.com"),
        ("US5", "https://us5.datadoghq.com"),
        ("EU1", "https://app.datadoghq.eu"),
        ("AP1", "https://ap1.datadoghq.com"),
        ("AP2", "https://ap2.datadoghq.com"),
        ("UK1", "https://uk1.datadoghq.com"),
        ("US1-FED", "https://app.ddog-gov.com"),
        ("US2-FED", "https://us2.ddog-gov.com"),
    ],
)
def test_monitor_links_point_at_the_sites_web_app(site: str, app: str) -> None:
    config = INTEGRATION.config.model_validate({"site": site})
    assert config.app_url == app  # type: ignore[attr-defined]
