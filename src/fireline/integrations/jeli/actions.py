"""Jeli actions: Create Incident (`POST /v1/incidents`; not idempotent — Jeli documents no
idempotency key, so a retried step may need checking) and List Incidents
(`GET /v1/incidents`, newest first, optionally by status and title)."""

from __future__ import annotations

from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.jeli import client
from fireline.integrations.jeli.schema import (
    CreateIncidentInput,
    CreateIncidentOutput,
    ListIncidentsInput,
    ListIncidentsOutput,
    incident,
)


async def create_incident(ctx: ToolContext, data: CreateIncidentInput) -> CreateIncidentOutput:
    body: dict[str, Any] = {"title": data.title, "created_by": ctx.config.username}
    if data.summary:
        body["summary"] = data.summary
    if data.severity:
        body["severity"] = data.severity
    if data.started_at:
        body["started_at"] = data.started_at.isoformat()
    result = await client.call(ctx, "POST", "/incidents", idempotent=False, json=body)
    created = result.get("incident") if isinstance(result, dict) else None
    if not isinstance(created, dict) or "id" not in created:
        raise PermanentError("Jeli did not return the created incident")
    return CreateIncidentOutput(incident=incident(created))


async def list_incidents(ctx: ToolContext, data: ListIncidentsInput) -> ListIncidentsOutput:
    params: dict[str, Any] = {"limit": data.limit, "sort": "-created_at"}
    if data.status:
        params["status"] = data.status
    result = await client.call(ctx, "GET", "/incidents", idempotent=True, params=params)
    rows = result.get("incidents", []) if isinstance(result, dict) else []
    found = [incident(row) for row in rows]
    if data.title_contains:
        needle = data.title_contains.lower()
        found = [row for row in found if needle in row.title.lower()]
    return ListIncidentsOutput(incidents=found)


CREATE_INCIDENT = Action(
    name="create_incident",
    title="Create Incident",
    input=CreateIncidentInput,
    output=CreateIncidentOutput,
    idempotent=False,
    run=create_incident,
)
LIST_INCIDENTS = Action(
    name="list_incidents",
    title="List Incidents",
    input=ListIncidentsInput,
    output=ListIncidentsOutput,
    idempotent=True,
    run=list_incidents,
)
