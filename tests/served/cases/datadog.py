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


def _check(outputs: dict[str, Any]) -> None:
    found = outputs["search_logs"]
    assert [log["message"] for log in found["logs"]] == ["db timeout", "payment failed"]
    assert found["count"] == 2 and found["logs"][0]["id"] == "AQAAAY0003"
    (series,) = outputs["query_metrics"]["series"]
    assert series["metric"] == "system.cpu.user"
    assert [list(point) for point in series["points"]] == [[T0, 30.0], [T0 + 60000, 50.0]]


CASE = ToolCase(
    slug="datadog",
    fake=lambda: fake.make_app(fake.DatadogState(API_KEY, APP_KEY, LOGS, SERIES)),
    hosts=("api.datadoghq.com",),
    config={"site": "US1"},
    secrets={"api_key": API_KEY, "application_key": APP_KEY},
    steps=(
        ("search_logs", {"query": "status:error", "from_time": "2026-11-23T00:00:00Z",
                         "to_time": "2026-11-24T00:00:00Z", "limit": 10}),
        ("query_metrics", {"query": "avg:system.cpu.user{*}",
                           "from_time": "2026-11-23T09:00:00Z",
                           "to_time": "2026-11-23T12:00:00Z"}),
    ),
    check=_check,
)
