"""Grafana: List Firing Alerts — Grafana-managed alert instances from the built-in
Alertmanager (`GET /api/alertmanager/grafana/api/v2/alerts`), active only unless silenced or
inhibited ones are asked for, narrowed by Alertmanager label matchers."""

from __future__ import annotations

from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.grafana import client
from fireline.integrations.grafana.schema import (
    Alert,
    ListFiringAlertsInput,
    ListFiringAlertsOutput,
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


LIST_FIRING_ALERTS = Action(
    name="list_firing_alerts",
    title="List Firing Alerts",
    input=ListFiringAlertsInput,
    output=ListFiringAlertsOutput,
    idempotent=True,
    run=list_firing_alerts,
)
