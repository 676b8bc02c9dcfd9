"""Pages of the incidents domain (see DESIGN.md, the web app): the incident list, an
incident with its timeline and notes, and log entries (which live on their incident's page).

Read-only for now. Every page reads through the functions the REST views call, with the
signed-in user's principal, so a page shows exactly what the API would show that user: an
incident a restricted user is not assigned to is the 404 page, as it is a 404 in the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.permissions import Principal, Session
from fireline.core.pagination import DEFAULT_LIMIT, PageParams, Pagination
from fireline.core.resources import html_url
from fireline.incidents import access, catalog, lifecycle, listing, timeline
from fireline.incidents.models import Incident, LogEntry
from fireline.web.frame import CurrentViewer, render

router = APIRouter(include_in_schema=False)

Status = Literal["triggered", "acknowledged", "resolved"]
STATUS_TONES = {"triggered": "unhealthy", "acknowledged": "unknown", "resolved": "healthy"}
STATUS_FILTERS: tuple[tuple[str, Status | None], ...] = (
    ("All", None), ("Triggered", "triggered"), ("Acknowledged", "acknowledged"),
    ("Resolved", "resolved"),
)
NEWEST_FIRST = ["created_at:desc", "incident_number:desc"]
# The API's page-size cap: the timeline reads as many entries per page as one API call can.
TIMELINE_PAGE = 100

_ENTRY_LABELS = {
    "trigger_log_entry": "Triggered",
    "acknowledge_log_entry": "Acknowledged",
    "resolve_log_entry": "Resolved",
    "assign_log_entry": "Assigned",
    "annotate_log_entry": "Note added",
    "urgency_change_log_entry": "Urgency changed",
    "priority_change_log_entry": "Priority changed",
    "responder_request_log_entry": "Responders requested",
    "workflow_run_log_entry": "Workflow run",
    "workflow_step_log_entry": "Workflow step",
}
# Agents that have a page of their own (`html_url` kinds); any other is shown by name only.
_AGENT_PAGES = frozenset({"user", "service", "incident_workflow"})


@dataclass(frozen=True)
class TimelineRow:
    id: str
    label: str
    summary: str
    at: datetime
    agent_name: str
    agent_url: str | None


def timeline_row(entry: LogEntry) -> TimelineRow:
    kind = str(entry.agent.get("type", "")).removesuffix("_reference")
    label = _ENTRY_LABELS.get(entry.type) or (
        entry.type.removesuffix("_log_entry").replace("_", " ").capitalize())
    agent_url = html_url("", kind, entry.agent["id"]) if kind in _AGENT_PAGES else None
    return TimelineRow(entry.id, label, entry.summary, entry.created_at,
                       str(entry.agent.get("summary") or kind), agent_url)


def list_url(*, status: str | None = None, service_id: str | None = None, offset: int = 0,
             limit: int = DEFAULT_LIMIT) -> str:
    """The incident list's address for these filters (defaults left out)."""
    params: dict[str, Any] = {"status": status, "service_id": service_id,
                              "offset": offset or None,
                              "limit": limit if limit != DEFAULT_LIMIT else None}
    query = urlencode({name: value for name, value in params.items() if value is not None})
    return f"/incidents?{query}" if query else "/incidents"


@router.get("/incidents")
async def incident_list(
    request: Request, viewer: CurrentViewer, session: Session, page: Pagination,
    status: Status | None = None, service_id: str | None = None,
) -> Response:
    service = (await catalog.get_service(session=session, service_id=service_id)
               if service_id else None)
    filters = listing.IncidentFilters(statuses=[status] if status else [],
                                      service_ids=[service_id] if service_id else [],
                                      sort_by=NEWEST_FIRST)
    found = await listing.list_incidents(
        session=session, principal=viewer.principal, filters=filters, params=page)

    def url(**changes: Any) -> str:
        return list_url(**({"status": status, "service_id": service_id, "limit": page.limit}
                           | changes))

    return render(
        request, "incidents/list.html", viewer=viewer, incidents=found.items, status=status,
        service=service, tones=STATUS_TONES,
        filters=[(label, value, url(status=value)) for label, value in STATUS_FILTERS],
        all_services_url=url(service_id=None),
        newer_url=url(offset=max(page.offset - page.limit, 0)) if page.offset else None,
        older_url=url(offset=page.offset + page.limit) if found.more else None,
    )


@router.get("/incidents/{incident_id}")
async def incident_page(
    incident_id: str, request: Request, viewer: CurrentViewer, session: Session,
    timeline_offset: int = Query(0, ge=0),
) -> Response:
    incident = await access.visible_incident(
        session=session, principal=viewer.principal, incident_id=incident_id)
    return render(request, "incidents/detail.html", viewer=viewer,
                  **await incident_context(session=session, principal=viewer.principal,
                                           incident=incident, timeline_offset=timeline_offset))


async def incident_context(
    *, session: AsyncSession, principal: Principal, incident: Incident, timeline_offset: int = 0,
) -> dict[str, Any]:
    """What the incident page shows; the later actions re-render it from the same context."""
    entries, _ = await timeline.list_log_entries(
        session=session, principal=principal, incident_id=incident.id,
        params=PageParams(limit=TIMELINE_PAGE, offset=timeline_offset))
    page_url = f"/incidents/{incident.id}"

    def at_offset(offset: int) -> str:
        return f"{page_url}?timeline_offset={offset}#timeline" if offset else f"{page_url}#timeline"

    return {
        "incident": incident, "tones": STATUS_TONES,
        "timeline": [timeline_row(entry) for entry in entries.items],
        "notes": await lifecycle.list_notes(session=session, incident=incident),
        "later_url": at_offset(max(timeline_offset - TIMELINE_PAGE, 0))
        if timeline_offset else None,
        "earlier_url": at_offset(timeline_offset + TIMELINE_PAGE) if entries.more else None,
    }


@router.get("/log_entries/{entry_id}")
async def log_entry_page(
    entry_id: str, viewer: CurrentViewer, session: Session
) -> Response:
    """A log entry is a row of its incident's timeline: this sends the browser there."""
    entry, incident = await timeline.get_log_entry(
        session=session, principal=viewer.principal, entry_id=entry_id)
    offset = await _timeline_offset_of(session, entry)
    query = f"?timeline_offset={offset}" if offset else ""
    return RedirectResponse(f"/incidents/{incident.id}{query}#log-entry-{entry.id}",
                            status_code=303)


async def _timeline_offset_of(session: AsyncSession, entry: LogEntry) -> int:
    """The offset of the timeline page that holds `entry`, in the timeline's own order
    (newest first, then by id, as `timeline.list_log_entries` sorts)."""
    newer = await session.scalar(select(func.count()).select_from(LogEntry).where(
        LogEntry.incident_id == entry.incident_id,
        or_(LogEntry.created_at > entry.created_at,
            and_(LogEntry.created_at == entry.created_at, LogEntry.id > entry.id))))
    return (int(newer or 0) // TIMELINE_PAGE) * TIMELINE_PAGE
