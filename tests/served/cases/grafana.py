from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.integrations.fakes import grafana as fake
from tests.served.cases.base import ToolCase

TOKEN = "glsa_servedServiceAccountToken0123456789_abcdef01"


def _alert(name: str, severity: str, service: str, *, silenced: bool = False) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "severity": severity, "service": service},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": "2026-11-23T10:00:00Z", "updatedAt": "2026-11-23T10:05:00Z",
        "endsAt": "2026-11-23T10:09:00Z", "fingerprint": f"{name}-{service}",
        "generatorURL": f"https://mystack.grafana.net/alerting/grafana/{name}/view",
        "receivers": [{"name": "oncall"}],
        "status": {"state": "suppressed" if silenced else "active",
                   "silencedBy": ["silence-1"] if silenced else [], "inhibitedBy": []},
    }


ALERTS = [
    _alert("HighErrorRate", "critical", "checkout"),
    _alert("HighLatency", "warning", "checkout"),
    _alert("DiskFull", "critical", "ledger", silenced=True),
]


def _ns(minute: int) -> str:
    return str(int(datetime(2026, 11, 23, 10, minute, tzinfo=UTC).timestamp()) * 10**9)


STREAMS = [
    {"stream": {"app": "checkout", "level": "error"},
     "values": [[_ns(1), "payment failed order=42"], [_ns(3), "payment failed order=44"]]},
    {"stream": {"app": "checkout", "level": "info"}, "values": [[_ns(2), "payment ok"]]},
    {"stream": {"app": "ledger", "level": "error"}, "values": [[_ns(4), "db timeout"]]},
]


def _check(outputs: dict[str, Any]) -> None:
    alerts = outputs["list_firing_alerts"]
    assert alerts["count"] == 1
    (alert,) = alerts["alerts"]
    assert alert["fingerprint"] == "HighErrorRate-checkout"
    assert alert["annotations"]["summary"] == "HighErrorRate on checkout"
    assert alert["receivers"] == ["oncall"]
    loki = outputs["query_loki"]
    assert [entry["line"] for entry in loki["lines"]] == [
        "payment failed order=44", "payment failed order=42"]
    assert loki["count"] == 2 and loki["lines"][0]["labels"]["app"] == "checkout"


CASE = ToolCase(
    slug="grafana",
    fake=lambda: fake.make_app(fake.GrafanaState(TOKEN, "Main Org.", ALERTS,
                                                 loki={"loki-prod": STREAMS})),
    hosts=("mystack.grafana.net",),
    config={"url": "https://mystack.grafana.net"},
    secrets={"service_account_token": TOKEN},
    steps=(
        ("list_firing_alerts", {"filter": ['severity="critical"']}),
        ("query_loki", {"datasource_uid": "loki-prod", "query": '{level="error"} |= "payment"',
                        "start": "2026-11-23T10:00:00Z", "end": "2026-11-23T11:00:00Z"}),
    ),
    check=_check,
)
