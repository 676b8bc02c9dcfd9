from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.grafana import INTEGRATION
from fireline.integrations.grafana.schema import (
    ListFiringAlertsInput,
    ListFiringAlertsOutput,
    QueryLokiInput,
    QueryLokiOutput,
)
from tests.integrations.fakes import grafana as fake
from tests.integrations.recording import assert_no_secret_in_urls, recording
from tests.integrations.support import FakeServer, serve, tool_context

TOKEN = "glsa_pretendServiceAccountToken0123456789_abcdef01"


def _alert(
    name: str, severity: str, service: str, *, silenced: bool = False, receiver: str = "oncall"
) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "severity": severity, "service": service},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": "2026-11-23T10:00:00Z",
        "updatedAt": "2026-11-23T10:05:00Z",
        "endsAt": "2026-11-23T10:09:00Z",
        "fingerprint": f"{name}-{service}",
        "generatorURL": f"https://grafana.example.com/alerting/grafana/{name}/view",
        "receivers": [{"name": receiver}],
        "status": {
            "state": "suppressed" if silenced else "active",
            "silencedBy": ["silence-1"] if silenced else [],
            "inhibitedBy": [],
        },
    }


ALERTS = [
    _alert("HighErrorRate", "critical", "checkout"),
    _alert("HighLatency", "warning", "checkout"),
    _alert("DiskFull", "critical", "ledger", silenced=True),
    _alert("QueueBacklog", "critical", "api", receiver="platform"),
]


def _ns(minute: int) -> str:
    return str(int(datetime(2026, 11, 23, 10, minute, tzinfo=UTC).timestamp()) * 10**9)


STREAMS = [
    {
        "stream": {"app": "checkout", "level": "error"},
        "values": [[_ns(1), "payment failed order=42"], [_ns(3), "payment failed order=44"]],
    },
    {"stream": {"app": "checkout", "level": "info"}, "values": [[_ns(2), "payment ok"]]},
    {"stream": {"app": "ledger", "level": "error"}, "values": [[_ns(4), "db timeout"]]},
]


@pytest.fixture(scope="module")
def grafana(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    state = fake.GrafanaState(TOKEN, "Main Org.", ALERTS, loki={"loki-prod": STREAMS})
    hosts = ("grafana.example.com", "mystack.grafana.net")
    with serve(fake.make_app(state), ca, tmp_path_factory.mktemp("gf"), *hosts) as server:
        yield server


def _ctx(
    grafana: FakeServer,
    ca: trustme.CA,
    *,
    url: str = "https://grafana.example.com",
    token: str = TOKEN,
) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"url": url},
        secrets={"service_account_token": token},
        routes={**grafana.routes(443), **grafana.routes(3000)},
        ca=ca,
    )


@pytest.mark.parametrize("url", ["https://grafana.example.com", "https://mystack.grafana.net/"])
async def test_verify_healthy(grafana: FakeServer, ca: trustme.CA, url: str) -> None:
    assert await INTEGRATION.verify(_ctx(grafana, ca, url=url)) == (
        "Connected to Grafana organization Main Org."
    )


async def test_verify_wrong_token_is_a_credential_error(
    grafana: FakeServer, ca: trustme.CA
) -> None:
    with pytest.raises(CredentialError):
        await INTEGRATION.verify(_ctx(grafana, ca, token="glsa_wrong"))


async def test_verify_unreachable_is_transient(grafana: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(TransientError):
        await INTEGRATION.verify(_ctx(grafana, ca, url="https://grafana.example.com:8443"))


@pytest.mark.parametrize(
    ("data", "fingerprints"),
    [
        (
            {},
            {"HighErrorRate-checkout", "HighLatency-checkout", "QueueBacklog-api"},
        ),
        ({"filter": ['severity="critical"']}, {"HighErrorRate-checkout", "QueueBacklog-api"}),
        (
            {"filter": ['severity="critical"', 'service=~"check.*"']},
            {"HighErrorRate-checkout"},
        ),
        (
            {"filter": ['severity="critical"'], "include_silenced": True},
            {"HighErrorRate-checkout", "DiskFull-ledger", "QueueBacklog-api"},
        ),
        ({"receiver": "platform"}, {"QueueBacklog-api"}),
    ],
)
async def test_list_firing_alerts(
    grafana: FakeServer, ca: trustme.CA, data: dict[str, Any], fingerprints: set[str]
) -> None:
    action = INTEGRATION.action("list_firing_alerts")
    assert action is not None and action.idempotent
    output = await action.run(_ctx(grafana, ca), ListFiringAlertsInput(**data))
    assert isinstance(output, ListFiringAlertsOutput)
    assert {alert.fingerprint for alert in output.alerts} == fingerprints
    assert output.count == len(fingerprints)
    first = next(a for a in output.alerts if a.fingerprint == sorted(fingerprints)[0])
    assert first.labels["alertname"] and first.annotations["summary"]
    assert first.starts_at is not None and first.receivers


def test_list_firing_alerts_input_is_validated() -> None:
    with pytest.raises(ValidationError, match="label matcher"):
        ListFiringAlertsInput(filter=["severity critical"])
    with pytest.raises(ValidationError):
        ListFiringAlertsInput(unknown=True)  # type: ignore[call-arg]
    assert ListFiringAlertsInput(filter=[' team!="db" ']).filter == ['team!="db"']


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://grafana.example.com", "grafana.example.com", 443),
        ("https://Grafana.Example.com:3000/grafana", "grafana.example.com", 3000),
        ("https://mystack.grafana.net", "mystack.grafana.net", 443),
    ],
)
def test_net6_destination_is_the_instance_host(url: str, host: str, port: int) -> None:
    destination = INTEGRATION.destination(INTEGRATION.config.model_validate({"url": url}))
    assert destination.hosts == (host,) and destination.ports == (port,)
    assert INTEGRATION.credential_fields == ("url",)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://grafana.example.com", "https"),
        ("https://user:pw@grafana.example.com", "user name"),
        ("https://grafana.example.com/?x=1", "query"),
        ("grafana.example.com", "https"),
    ],
)
def test_config_validation_errors_are_clear(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        INTEGRATION.config.model_validate({"url": url})


async def test_sec7_no_secret_in_any_url(grafana: FakeServer, ca: trustme.CA) -> None:
    ctx, recorder = recording(_ctx(grafana, ca))
    await INTEGRATION.verify(ctx)
    action = INTEGRATION.action("list_firing_alerts")
    assert action is not None
    await action.run(ctx, ListFiringAlertsInput(filter=['severity="critical"']))
    assert_no_secret_in_urls(recorder, TOKEN)


WINDOW = {
    "start": datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
    "end": datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
}


@pytest.mark.parametrize(
    ("query", "lines"),
    [
        ('{app="checkout"}', ["payment failed order=44", "payment ok", "payment failed order=42"]),
        ('{level="error"} |= "payment"', ["payment failed order=44", "payment failed order=42"]),
        ('{app=~"check.*|ledger", level="error"} != "payment"', ["db timeout"]),
    ],
)
async def test_query_loki_through_the_data_source_proxy(
    grafana: FakeServer, ca: trustme.CA, query: str, lines: list[str]
) -> None:
    action = INTEGRATION.action("query_loki")
    assert action is not None and action.idempotent
    data = QueryLokiInput(datasource_uid="loki-prod", query=query, **WINDOW)
    output = await action.run(_ctx(grafana, ca), data)
    assert isinstance(output, QueryLokiOutput)
    assert [entry.line for entry in output.lines] == lines
    assert output.count == len(lines)
    assert all(entry.labels["app"] for entry in output.lines)


async def test_query_loki_forward_direction_and_limit(grafana: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("query_loki")
    assert action is not None
    data = QueryLokiInput(
        datasource_uid="loki-prod", query='{app="checkout"}', limit=1, direction="forward", **WINDOW
    )
    output = await action.run(_ctx(grafana, ca), data)
    assert [entry.line for entry in output.lines] == ["payment failed order=42"]
    assert output.lines[0].timestamp == datetime(2026, 11, 23, 10, 1, tzinfo=UTC)


async def test_query_loki_errors_are_clear(grafana: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("query_loki")
    assert action is not None
    with pytest.raises(PermanentError, match="metric queries"):
        await action.run(
            _ctx(grafana, ca),
            QueryLokiInput(datasource_uid="loki-prod", query='count_over_time({app="x"}[5m])'),
        )
    with pytest.raises(PermanentError, match="Unable to find datasource"):
        await action.run(
            _ctx(grafana, ca), QueryLokiInput(datasource_uid="nope", query='{app="x"}')
        )
    with pytest.raises(ValidationError):
        QueryLokiInput(datasource_uid="../../api/admin", query='{app="x"}')
