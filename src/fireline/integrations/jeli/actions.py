"""Jeli actions: Create Incident (`POST /v1/incidents`; not idempotent — Jeli documents no
idempotency key, so a retried step may need checking), List Incidents (`GET /v1/incidents`,
newest first, optionally by status and title) and Create Post-Incident Review
(`POST /v1/opportunities`: Jeli's API still calls a review an "opportunity").

WF-5 for Create Post-Incident Review, by look-up first: Jeli takes no idempotency key and no
client-chosen id, so the review's summary ends with a reference derived from the run's
idempotency key. Before creating, the newest reviews (of the same incident, when one is
given) are listed and one carrying that reference is returned instead of a second review.
The look-up reads one page (`_LOOKUP_LIMIT`, newest first): a retry comes soon after the
first attempt, so the earlier review is among them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.jeli import client
from fireline.integrations.jeli.schema import (
    CreateIncidentInput,
    CreateIncidentOutput,
    CreatePostIncidentReviewInput,
    CreatePostIncidentReviewOutput,
    ListIncidentsInput,
    ListIncidentsOutput,
    incident,
    review,
)

_LOOKUP_LIMIT = 100


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


def _reference(idempotency_key: str) -> str:
    # Stable across retries of one step, distinct between steps and runs; not secret.
    return "fireline-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]


async def _review_with(
    ctx: ToolContext, reference: str, incident_id: str | None
) -> dict[str, Any] | None:
    params: dict[str, Any] = {"limit": _LOOKUP_LIMIT, "sort": "-created_at"}
    if incident_id:
        params["incident_id"] = incident_id
    result = await client.call(ctx, "GET", "/opportunities", idempotent=True, params=params)
    rows = result.get("opportunities", []) if isinstance(result, dict) else []
    return next(
        (row for row in rows if isinstance(row, dict) and reference in (row.get("summary") or "")),
        None,
    )


async def create_post_incident_review(
    ctx: ToolContext, data: CreatePostIncidentReviewInput
) -> CreatePostIncidentReviewOutput:
    summary = data.summary or ""
    if ctx.idempotency_key:
        reference = _reference(ctx.idempotency_key)
        existing = await _review_with(ctx, reference, data.incident_id)
        if existing is not None:
            return CreatePostIncidentReviewOutput(review=review(existing))
        summary = f"{summary}\n\nFireline reference: {reference}".lstrip()
    body: dict[str, Any] = {"name": data.name, "created_by": ctx.config.username}
    if data.incident_id:
        body["incident_id"] = data.incident_id
    if summary:
        body["summary"] = summary
    result = await client.call(ctx, "POST", "/opportunities", idempotent=False, json=body)
    created = result.get("opportunity") if isinstance(result, dict) else None
    if not isinstance(created, dict) or "id" not in created:
        raise PermanentError("Jeli did not return the created post-incident review")
    return CreatePostIncidentReviewOutput(review=review(created))


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
CREATE_POST_INCIDENT_REVIEW = Action(
    name="create_post_incident_review",
    title="Create Post-Incident Review",
    input=CreatePostIncidentReviewInput,
    output=CreatePostIncidentReviewOutput,
    idempotent=False,
    run=create_post_incident_review,
)
