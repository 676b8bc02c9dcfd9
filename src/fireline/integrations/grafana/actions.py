"""Grafana actions.

- List Firing Alerts: Grafana-managed alert instances from the built-in Alertmanager
  (`GET /api/alertmanager/grafana/api/v2/alerts`), active only unless silenced or inhibited
  ones are asked for, narrowed by Alertmanager label matchers.
- Query Loki: a LogQL range query through Grafana's data source proxy
  (`GET /api/datasources/proxy/uid/{uid}/loki/api/v1/query_range`), so the one service account
  token reaches the Loki data sources Grafana already holds credentials for.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fireline.core.clock import utcnow
from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.grafana import client
from fireline.integrations.grafana.schema import (
    Alert,
    ListFiringAlertsInput,
    ListFiringAlertsOutput,
    LogLine,
    QueryLokiInput,
    QueryLokiOutput,
)

_ALERTS = "/api/alertmanager/grafana/api/v2/alerts"


def _alert(raw: dict[str, Any]) -> Alert:
    status = raw.get("status") or {}
    return Alert(
        fingerprint=str(raw.get("fingerprint", "")),
        state=str(status.get("state", "unknown")),
        labels=raw.get("labels") or {},
        annotations=raw.get("annotations") or {},
        starts_at=raw.get("startsAt"),
        updated_at=raw.get("updatedAt"),
        generator_url=raw.get("generatorURL") or None,
        silenced_by=status.get("silencedBy") or [],
        inhibited_by=status.get("inhibitedBy") or [],
        receivers=[r.get("name", "") for r in raw.get("receivers") or [] if isinstance(r, dict)],
    )


async def list_firing_alerts(
    ctx: ToolContext, data: ListFiringAlertsInput
) -> ListFiringAlertsOutput:
    params: dict[str, Any] = {
        "active": "true",
        "silenced": str(data.include_silenced).lower(),
        "inhibited": str(data.include_inhibited).lower(),
    }
    if data.filter:
        params["filter"] = data.filter  # repeated query parameter, as Alertmanager expects
    if data.receiver:
        params["receiver"] = data.receiver
    answer = await client.get(ctx, _ALERTS, params)
    if not isinstance(answer, list):
        raise PermanentError("Grafana's Alertmanager answered with something other than a list")
    alerts = [_alert(raw) for raw in answer if isinstance(raw, dict)]
    return ListFiringAlertsOutput(alerts=alerts, count=len(alerts))


def _nanoseconds(value: datetime) -> int:
    return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1_000


async def query_loki(ctx: ToolContext, data: QueryLokiInput) -> QueryLokiOutput:
    end = data.end or utcnow()
    start = data.start or end - timedelta(hours=1)
    answer = await client.get(
        ctx,
        f"/api/datasources/proxy/uid/{data.datasource_uid}/loki/api/v1/query_range",
        {
            "query": data.query,
            "start": _nanoseconds(start),
            "end": _nanoseconds(end),
            "limit": data.limit,
            "direction": data.direction,
        },
    )
    result = (answer.get("data") or {}) if isinstance(answer, dict) else {}
    if result.get("resultType") != "streams":
        raise PermanentError("Query Loki expects a log query; metric queries return no lines")
    lines = [
        LogLine(
            timestamp=datetime.fromtimestamp(int(stamp) / 1e9, UTC),
            line=str(line),
            labels=stream.get("stream") or {},
        )
        for stream in result.get("result") or []
        for stamp, line in stream.get("values") or []
    ]
    lines.sort(key=lambda entry: entry.timestamp, reverse=data.direction == "backward")
    return QueryLokiOutput(lines=lines[: data.limit], count=min(len(lines), data.limit))


LIST_FIRING_ALERTS = Action(
    name="list_firing_alerts",
    title="List Firing Alerts",
    input=ListFiringAlertsInput,
    output=ListFiringAlertsOutput,
    idempotent=True,
    run=list_firing_alerts,
)

QUERY_LOKI = Action(
    name="query_loki",
    title="Query Loki",
    input=QueryLokiInput,
    output=QueryLokiOutput,
    idempotent=True,
    run=query_loki,
)
