from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integrations.fakes import datadog as fake
from tests.served.cases.base import ToolCase

API_KEY = "dd-served-api-key-0a1b2c3d4e5f60718293"
APP_KEY = "dd-served-app-key-f0e1d2c3b4a5968778695a4b"
DAY = datetime(2026, 11, 23, tzinfo=UTC)


def _log(i: int, status: str, service: str, message: str, minute: int) -> dict[str, Any]:
    stamp = (DAY + timedelta(hours=10, minutes=minute)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"id": f"AQAAAY{i:04d}", "attributes": {
        "timestamp": stamp, "status": status, "service": service, "host": "web-1",
        "message": message, "tags": [f"service:{service}", "env:prod"]}}


LOGS = [
    _log(1, "error", "checkout", "payment failed", 1),
    _log(2, "info", "checkout", "payment ok", 2),
    _log(3, "error", "ledger", "db timeout", 3),
]
T0 = int((DAY + timedelta(hours=10)).timestamp()) * 1000
SERIES = [
    {"metric": "system.cpu.user", "tags": ["host:web-1"],
     "points": [[T0, 10.0], [T0 + 60000, 30.0]]},
    {"metric": "system.cpu.user", "tags": ["host:web-2"],
     "points": [[T0, 50.0], [T0 + 60000, 70.0]]},
]


TRIGGERED = int((DAY + timedelta(hours=10, minutes=5)).timestamp())
MONITORS = [
    {"id": 1001, "org_id": 321813, "name": "Checkout CPU high", "type": "metric alert",
     "query": "avg(last_5m):avg:system.cpu.user{service:checkout} > 90",
     "message": "CPU high @pagerduty", "tags": ["service:checkout", "env:prod"],
     "overall_state": "Alert", "priority": 2, "multi": True,
     "created": "2026-11-01T10:00:00+00:00", "modified": "2026-11-02T10:00:00+00:00",
     "creator": {"name": "Ada Lovelace", "handle": "ada@example.com"},
     "state": {"groups": {
         "host:web-1": {"name": "host:web-1", "status": "Alert", "last_triggered_ts": TRIGGERED},
         "host:web-2": {"name": "host:web-2", "status": "OK", "last_triggered_ts": 0}}}},
    {"id": 1002, "org_id": 321813, "name": "Disk space low", "type": "metric alert",
     "query": "avg(last_5m):avg:system.disk.in_use{*} > 0.9", "tags": ["env:prod"],
     "overall_state": "OK", "priority": None, "multi": False},
]
STATES: list[fake.DatadogState] = []  # the fake's state, for the check to read


def _state() -> fake.DatadogState:
    state = fake.DatadogState(API_KEY, APP_KEY, LOGS, SERIES, monitors=MONITORS)
    STATES.append(state)
    return state


def _check(outputs: dict[str, Any]) -> None:
    found = outputs["search_logs"]
    assert [log["message"] for log in found["logs"]] == ["db timeout", "payment failed"]
    assert found["count"] == 2 and found["logs"][0]["id"] == "AQAAAY0003"
    (series,) = outputs["query_metrics"]["series"]
    assert series["metric"] == "system.cpu.user"
    assert [list(point) for point in series["points"]] == [[T0, 30.0], [T0 + 60000, 50.0]]
    monitor = outputs["get_monitor"]["monitor"]
    assert (monitor["id"], monitor["name"], monitor["overall_state"]) == (
        1001, "Checkout CPU high", "Alert")
    assert monitor["url"] == "https://app.datadoghq.com/monitors/1001"
    assert [(g["name"], g["last_triggered_ts"]) for g in monitor["groups"]] == [
        ("host:web-1", TRIGGERED)]
    alerting = outputs["get_alerting_monitors"]
    assert [m["id"] for m in alerting["monitors"]] == [1001] and alerting["total_count"] == 1
    snapshot = outputs["create_graph_snapshot"]
    assert snapshot["snapshot_url"].startswith("https://p.datadoghq.com/snapshot/view/")
    assert STATES[-1].snapshots[-1] == {"metric_query": "avg:system.cpu.user{service:checkout}",
                    "start": str(T0 // 1000), "end": str(T0 // 1000 + 3600)}


CASE = ToolCase(
    slug="datadog",
    fake=lambda: fake.make_app(_state()),
    hosts=("api.datadoghq.com",),
    config={"site": "US1"},
    secrets={"api_key": API_KEY, "application_key": APP_KEY},
    steps=(
        ("search_logs", {"query": "status:error", "from_time": "2026-11-23T00:00:00Z",
                         "to_time": "2026-11-24T00:00:00Z", "limit": 10}),
        ("query_metrics", {"query": "avg:system.cpu.user{*}",
                           "from_time": "2026-11-23T09:00:00Z",
                           "to_time": "2026-11-23T12:00:00Z"}),
        ("get_monitor", {"monitor_id": 1001, "group_states": ["alert"]}),
        ("get_alerting_monitors", {"query": 'tag:"env:prod"'}),
        ("create_graph_snapshot", {"metric_query": "avg:system.cpu.user{service:checkout}",
                                   "start": "2026-11-23T10:00:00Z",
                                   "end": "2026-11-23T11:00:00Z"}),
    ),
    check=_check,
)
