"""Pages of the incidents domain (see DESIGN.md, the web app): the incident list, an
incident with its timeline and notes, and log entries (which live on their incident's page).

The list filters as PagerDuty's does — status, urgency, service, team, assigned to me and the
dates created (the last 30 days unless the dates or "all dates" say otherwise) — through a GET
form, so a filtered list is a URL to share. Its table is a partial of its own, which the page
polls with htmx. Responders acknowledge or resolve the rows they tick in bulk; on an
incident's page they add notes, acknowledge, resolve, reassign, change urgency or priority and
add responders.

Every page reads and writes through the functions the REST views call, with the signed-in
user's principal and the same checks, so a page shows and does exactly what the API would for
that user: an incident a restricted user is not assigned to is the 404 page, as it is a 404 in
the API; a role that may not change incidents sees no action forms, and its POST is the 403
page. A refused form comes back with status 400, the message beside its field and what was
typed kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts import service as accounts
from fireline.accounts.models import User
from fireline.accounts.permissions import Principal, Session
from fireline.accounts.service import InvalidFieldError
from fireline.core.clock import utc_bound, utcnow
from fireline.core.errors import (
    ArgumentsCausedError,
    InvalidInputError,
    NotFoundError,
    validation_message,
)
from fireline.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageParams, Pagination
from fireline.core.resources import html_url
from fireline.incidents import access, catalog, lifecycle, listing, timeline
from fireline.incidents.models import Incident, LogEntry
from fireline.incidents.responders import ResponderRequestCreate
from fireline.incidents.schemas import BulkIncidentUpdate, IncidentChanges, NoteFields, Urgency

# The REST list's own conversion of `since`/`until` to UTC: the page must not disagree.
from fireline.web.frame import CurrentViewer, FormState, Viewer, is_htmx, permits, redirect, render

router = APIRouter(include_in_schema=False)
M = TypeVar("M", bound=BaseModel)

Status = Literal["triggered", "acknowledged", "resolved"]
STATUS_TONES = {"triggered": "unhealthy", "acknowledged": "unknown", "resolved": "healthy"}
# The quick links above the filter form, as PagerDuty's tabs.
STATUS_FILTERS: tuple[tuple[str, tuple[Status, ...]], ...] = (
    ("All", ()), ("Open", ("triggered", "acknowledged")), ("Triggered", ("triggered",)),
    ("Acknowledged", ("acknowledged",)), ("Resolved", ("resolved",)),
)
STATUSES: tuple[Status, ...] = ("triggered", "acknowledged", "resolved")
URGENCIES: tuple[Urgency, ...] = ("high", "low")
NEWEST_FIRST = ["created_at:desc", "incident_number:desc"]
# PagerDuty lists the last month unless dates are given or `date_range=all`.
RECENT = timedelta(days=30)
ALL_DATES = "all"
# The API's page-size cap: the timeline reads as many entries per page as one API call can.
TIMELINE_PAGE = 100
# FastAPI parses the REST list's `since: datetime` query parameters with pydantic: so do we.
_DATETIME = TypeAdapter(datetime)
_VERBS = {"acknowledged": "Acknowledged", "resolved": "Resolved"}

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


# The list


@dataclass(frozen=True)
class ListQuery:
    """The list's filters as its query string (the filter form's fields) carries them."""

    status: tuple[str, ...] = ()
    urgency: tuple[str, ...] = ()
    service_id: str = ""
    team_id: str = ""
    assigned: str = ""  # "me"
    since: str = ""
    until: str = ""
    date_range: str = ""  # ALL_DATES
    offset: int = 0
    limit: int = DEFAULT_LIMIT

    def url(self, **changes: Any) -> str:
        """This list's address with `changes` (defaults left out)."""
        query = replace(self, **changes)
        pairs: list[tuple[str, Any]] = [
            *(("status", value) for value in query.status),
            *(("urgency", value) for value in query.urgency),
            *((name, getattr(query, name)) for name in (
                "service_id", "team_id", "assigned", "since", "until", "date_range")
              if getattr(query, name)),
        ]
        if query.offset:
            pairs.append(("offset", query.offset))
        if query.limit != DEFAULT_LIMIT:
            pairs.append(("limit", query.limit))
        return f"/incidents?{urlencode(pairs)}" if pairs else "/incidents"


def list_url(*, status: str | None = None, service_id: str | None = None, offset: int = 0,
             limit: int = DEFAULT_LIMIT) -> str:
    """The incident list's address for these filters (defaults left out)."""
    return ListQuery(status=(status,) if status else (), service_id=service_id or "",
                     offset=offset, limit=limit).url()


def _is_list_url(url: str) -> bool:
    return url == "/incidents" or url.startswith("/incidents?")


def _date_bounds(query: ListQuery) -> tuple[dict[str, datetime | None], dict[str, str]]:
    """`since` and `until` by the REST list's rules, and a message for each that is bad."""
    bounds: dict[str, datetime | None] = {"since": None, "until": None}
    errors: dict[str, str] = {}
    for name in bounds:
        text = getattr(query, name)
        try:
            bounds[name] = utc_bound(_DATETIME.validate_python(text)) if text else None
        except ValidationError as exc:
            errors[name] = (f"{validation_message(exc.errors()[0])}. Write a date and time "
                            "such as 2024-05-01T09:30 (UTC unless it ends with an offset).")
    return bounds, errors


def _input_value(text: str, bound: datetime | None) -> str:
    """What a datetime-local input shows: the time in UTC (what it means), else as typed."""
    if bound is None:
        return text
    return bound.strftime("%Y-%m-%dT%H:%M:%S" if bound.second else "%Y-%m-%dT%H:%M")


@router.get("/incidents")
async def incident_list(
    request: Request, viewer: CurrentViewer, session: Session, page: Pagination,
    status: Annotated[list[Status], Query()] = [],  # noqa: B006
    urgency: Annotated[list[Urgency], Query()] = [],  # noqa: B006
    service_id: str = "", team_id: str = "", assigned: Literal["", "me"] = "",
    since: str = "", until: str = "", date_range: Literal["", "all"] = "",
) -> Response:
    query = ListQuery(status=tuple(dict.fromkeys(status)),
                      urgency=tuple(dict.fromkeys(urgency)), service_id=service_id,
                      team_id=team_id, assigned=assigned, since=since.strip(),
                      until=until.strip(), date_range=date_range, offset=page.offset,
                      limit=page.limit)
    service = (await catalog.get_service(session=session, service_id=service_id)
               if service_id else None)
    bounds, date_errors = _date_bounds(query)
    every_date = date_range == ALL_DATES
    since_at, until_at = (None, None) if every_date else (bounds["since"], bounds["until"])
    # The default window is not a date of the form's: each poll and each visit moves it on.
    recent_only = not (every_date or query.since or query.until)
    if recent_only:
        since_at = utcnow() - RECENT
    found = None
    if not date_errors:
        filters = listing.IncidentFilters(
            statuses=list(query.status), urgencies=list(query.urgency),
            service_ids=[service_id] if service_id else [],
            team_ids=[team_id] if team_id else [],
            user_ids=[viewer.user.id] if assigned else [],
            since=since_at, until=until_at, sort_by=NEWEST_FIRST)
        found = await listing.list_incidents(
            session=session, principal=viewer.principal, filters=filters, params=page)
    context: dict[str, Any] = {
        "incidents": found.items if found else [], "searched": found is not None,
        "tones": STATUS_TONES, "recent_days": RECENT.days, "recent_only": recent_only,
        "default_limit": DEFAULT_LIMIT,
        "may_change": permits(access.require_incident_writer, viewer.principal),
        "here_url": query.url(),
        "newer_url": query.url(offset=max(query.offset - query.limit, 0))
        if query.offset and found else None,
        "older_url": query.url(offset=query.offset + query.limit)
        if found and found.more else None,
    }
    if is_htmx(request):  # the table's poll: the same filtered list, without the page
        return render(request, "incidents/_table.html",
                      status_code=400 if date_errors else 200, viewer=viewer, **context)
    services = (await catalog.list_services(session=session,
                                            params=PageParams(limit=MAX_LIMIT))).items
    if service and service not in services:  # a long catalog: the chosen one still shows
        services.append(service)
    return render(
        request, "incidents/list.html", status_code=400 if date_errors else 200,
        viewer=viewer, query=query, service=service, services=services,
        teams=[team for team, _ in await accounts.list_teams(session=session)],
        statuses=STATUSES, urgencies=URGENCIES,
        form=FormState({name: _input_value(getattr(query, name), bound)
                        for name, bound in bounds.items()}, date_errors),
        quick_filters=[(label, set(value) == set(query.status), query.url(status=value, offset=0))
                       for label, value in STATUS_FILTERS],
        all_services_url=query.url(service_id="", offset=0), **context,
    )


def _count(number: int, noun: str = "incident") -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


@router.post("/incidents/bulk")
async def bulk_change(
    request: Request, viewer: CurrentViewer, session: Session,
    status: Literal["acknowledged", "resolved"] = Form(),
    incident_id: Annotated[list[str], Form()] = [],  # noqa: B006
    back: str = Form("/incidents"),
) -> Response:
    """`PUT /api/incidents` from the list's checkboxes. Unlike the API, which refuses the
    whole batch, one incident that cannot change (resolved already, gone) leaves the others
    changed, and the answer names it."""
    back = back if _is_list_url(back) else "/incidents"
    user, agent = await _writer(session, viewer)
    if not incident_id:
        return redirect(request, back, kind="error",
                        flash=f"Choose the incidents to mark {status} first.")
    try:
        body = BulkIncidentUpdate.model_validate({"incidents": [
            {"id": id_, "status": status} for id_ in dict.fromkeys(incident_id)]})
    except ValidationError as exc:
        raise InvalidInputError("; ".join(validation_message(item) for item in exc.errors())
                                ) from exc
    changed, already, refused = 0, 0, []
    for changes in body.incidents:
        try:
            incident = await access.visible_incident(
                session=session, principal=viewer.principal, incident_id=changes.id)
        except NotFoundError:
            refused.append(f"{changes.id} (not found)")
            continue
        before = incident.status
        try:
            async with session.begin_nested():  # a refusal undoes its own incident only
                await lifecycle.apply_changes(session=session, incident=incident, agent=agent,
                                              author=user, changes=changes)
        except (InvalidInputError, ArgumentsCausedError) as error:
            refused.append(f"#{incident.incident_number} ({error.message})")
            continue
        if incident.status == before:
            already += 1
        else:
            changed += 1
    await session.commit()
    text = f"{_VERBS[status]} {_count(changed)}."
    if already:
        text += f" {_count(already)} already {status}."
    if refused:
        text += f" Not changed: {', '.join(refused)}."
    return redirect(request, back, flash=text, kind="error" if refused else "success")


# An incident


@router.get("/incidents/{incident_id}")
async def incident_page(
    incident_id: str, request: Request, viewer: CurrentViewer, session: Session,
    timeline_offset: int = Query(0, ge=0),
) -> Response:
    incident = await access.visible_incident(
        session=session, principal=viewer.principal, incident_id=incident_id)
    if permits(access.require_incident_writer, viewer.principal):
        # The priority form lists them: seeded on first use, as `GET /api/priorities` does.
        await catalog.priorities_for_reading(db=request.app.state.database, session=session)
    return render(request, "incidents/detail.html", viewer=viewer,
                  **await incident_context(session=session, principal=viewer.principal,
                                           incident=incident, timeline_offset=timeline_offset))


@dataclass
class ActionForm(FormState):
    """An incident action's form; `chosen` holds the users picked in its list."""

    chosen: list[str] = field(default_factory=list)


_ACTIONS = ("note", "status", "assign", "urgency", "priority", "responders")


async def incident_context(
    *, session: AsyncSession, principal: Principal, incident: Incident, timeline_offset: int = 0,
    forms: dict[str, ActionForm] | None = None,
) -> dict[str, Any]:
    """What the incident page shows; the actions re-render it from the same context, with the
    refused form in `forms`."""
    entries, _ = await timeline.list_log_entries(
        session=session, principal=principal, incident_id=incident.id,
        params=PageParams(limit=TIMELINE_PAGE, offset=timeline_offset))
    page_url = f"/incidents/{incident.id}"

    def at_offset(offset: int) -> str:
        return f"{page_url}?timeline_offset={offset}#timeline" if offset else f"{page_url}#timeline"

    may_change = permits(access.require_incident_writer, principal)
    defaults = {name: ActionForm() for name in _ACTIONS} | {
        "assign": ActionForm(chosen=[item.user_id for item in incident.assignments]),
        "urgency": ActionForm({"urgency": incident.urgency}),
        "priority": ActionForm({"priority_id": incident.priority_id or ""}),
    }
    return {
        "incident": incident, "tones": STATUS_TONES,
        "timeline": [timeline_row(entry) for entry in entries.items],
        "notes": await lifecycle.list_notes(session=session, incident=incident),
        "later_url": at_offset(max(timeline_offset - TIMELINE_PAGE, 0))
        if timeline_offset else None,
        "earlier_url": at_offset(timeline_offset + TIMELINE_PAGE) if entries.more else None,
        "may_change": may_change, "forms": defaults | (forms or {}), "urgencies": URGENCIES,
        "people": [person for person in await accounts.list_users(session=session)
                   if not person.disabled] if may_change else [],
        "priorities": await catalog.priorities(session=session, seed=False)
        if may_change else [],
    }


async def _writer(session: AsyncSession, viewer: Viewer) -> tuple[User, timeline.Agent]:
    """As the REST views' `_writer`: the role check first (the 403 page), then who acts."""
    access.require_incident_writer(viewer.principal)
    user = await access.acting_user(session=session, principal=viewer.principal,
                                    from_header=None)
    return user, timeline.Agent.user(user, "website")


def _valid(model: type[M], data: dict[str, Any], field_name: str, empty: str) -> M:
    """`data` checked by the REST request schema; a refusal names the form's field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        item = exc.errors()[0]
        short = item["type"] in {"string_too_short", "too_short", "missing"}
        raise InvalidFieldError(field_name, empty if short else validation_message(item)
                                ) from exc


Change = Callable[[Incident, User, timeline.Agent], Awaitable[str]]


async def _act(request: Request, viewer: Viewer, session: AsyncSession, incident_id: str,
               form: ActionForm, name: str, change: Change, field_name: str | None = None
               ) -> Response:
    """Runs one action's `change` (which returns the flash text): a 303 back to the
    incident, or the page again with status 400 and `form` showing why — beside
    `field_name` when the refusal names no field of its own."""
    user, agent = await _writer(session, viewer)
    incident = await access.visible_incident(
        session=session, principal=viewer.principal, incident_id=incident_id)
    try:
        flash = await change(incident, user, agent)
    except (InvalidInputError, ArgumentsCausedError) as error:
        # As the settings pages: drop what the attempt left, reload who the layout shows.
        await session.rollback()
        await session.refresh(viewer.user)
        where: str | None = field_name
        if isinstance(error, InvalidFieldError):
            where, text = error.field, error.message
        else:  # "User P123 not found": the details are in `errors`
            text = "; ".join(error.errors) or error.message
        if where:
            form.errors[where] = text
        else:
            form.message = text
        return await _refused_page(request, viewer, session, incident_id, name, form)
    await session.commit()
    return redirect(request, f"/incidents/{incident_id}", flash=flash)


async def _refused_page(request: Request, viewer: Viewer, session: AsyncSession,
                        incident_id: str, name: str, form: ActionForm) -> HTMLResponse:
    incident = await access.visible_incident(
        session=session, principal=viewer.principal, incident_id=incident_id)
    context = await incident_context(session=session, principal=viewer.principal,
                                     incident=incident, forms={name: form})
    return render(request, "incidents/detail.html", 400, viewer=viewer, **context)


@router.post("/incidents/{incident_id}/notes")
async def add_note(incident_id: str, request: Request, viewer: CurrentViewer, session: Session,
                   content: str = Form("")) -> Response:
    async def change(incident: Incident, user: User, _agent: timeline.Agent) -> str:
        note = _valid(NoteFields, {"content": content.strip()}, "content",
                      "Write the note first.")
        await lifecycle.add_note(session=session, incident=incident, author=user,
                                 content=note.content)
        return "Note added."

    return await _act(request, viewer, session, incident_id,
                      ActionForm({"content": content}), "note", change, "content")


@router.post("/incidents/{incident_id}/status")
async def change_status(incident_id: str, request: Request, viewer: CurrentViewer,
                        session: Session, status: str = Form("")) -> Response:
    async def change(incident: Incident, user: User, agent: timeline.Agent) -> str:
        changes = _valid(IncidentChanges, {"status": status}, "status",
                         "Choose acknowledge or resolve.")
        await lifecycle.apply_changes(session=session, incident=incident, agent=agent,
                                      author=user, changes=changes)
        return f"{_VERBS[status]} #{incident.incident_number}."

    return await _act(request, viewer, session, incident_id, ActionForm(), "status", change)


@router.post("/incidents/{incident_id}/assign")
async def reassign(incident_id: str, request: Request, viewer: CurrentViewer,
                   session: Session,
                   user_id: Annotated[list[str], Form()] = []) -> Response:  # noqa: B006
    async def change(incident: Incident, user: User, agent: timeline.Agent) -> str:
        changes = _valid(IncidentChanges, {"assignments": [
            {"assignee": {"id": id_, "type": "user_reference"}} for id_ in user_id]},
            "user_id", "Choose who the incident is assigned to.")
        await lifecycle.apply_changes(session=session, incident=incident, agent=agent,
                                      author=user, changes=changes)
        return f"Assigned to {', '.join(item.user.name for item in incident.assignments)}."

    return await _act(request, viewer, session, incident_id, ActionForm(chosen=user_id),
                      "assign", change, "user_id")


@router.post("/incidents/{incident_id}/urgency")
async def change_urgency(incident_id: str, request: Request, viewer: CurrentViewer,
                         session: Session, urgency: str = Form("")) -> Response:
    async def change(incident: Incident, user: User, agent: timeline.Agent) -> str:
        changes = _valid(IncidentChanges, {"urgency": urgency}, "urgency",
                         "Choose an urgency.")
        await lifecycle.apply_changes(session=session, incident=incident, agent=agent,
                                      author=user, changes=changes)
        return f"Urgency is {incident.urgency}."

    return await _act(request, viewer, session, incident_id, ActionForm({"urgency": urgency}),
                      "urgency", change, "urgency")


@router.post("/incidents/{incident_id}/priority")
async def change_priority(incident_id: str, request: Request, viewer: CurrentViewer,
                          session: Session, priority_id: str = Form("")) -> Response:
    async def change(incident: Incident, user: User, agent: timeline.Agent) -> str:
        # An empty choice is the API's `"priority": null`: no priority.
        reference = {"id": priority_id, "type": "priority_reference"} if priority_id else None
        changes = _valid(IncidentChanges, {"priority": reference}, "priority_id",
                         "Choose a priority.")
        await lifecycle.apply_changes(session=session, incident=incident, agent=agent,
                                      author=user, changes=changes)
        return (f"Priority is {incident.priority.name}." if incident.priority
                else "The priority is removed.")

    return await _act(request, viewer, session, incident_id,
                      ActionForm({"priority_id": priority_id}), "priority", change,
                      "priority_id")


@router.post("/incidents/{incident_id}/responders")
async def add_responders(incident_id: str, request: Request, viewer: CurrentViewer,
                         session: Session, message: str = Form(""),
                         user_id: Annotated[list[str], Form()] = []  # noqa: B006
                         ) -> Response:
    async def change(incident: Incident, user: User, agent: timeline.Agent) -> str:
        body = _valid(ResponderRequestCreate, {
            "requester_id": user.id, "message": message.strip(),
            "responder_request_targets": [{"responder_request_target": {
                "id": id_, "type": "user_reference"}} for id_ in user_id]},
            "user_id", "Choose who to ask for help.")
        try:
            users = await catalog.users_by_id(session=session, ids=body.user_ids(),
                                              label="User")
        except InvalidInputError as error:  # beside the list; a resolved incident is not
            raise InvalidFieldError("user_id", "; ".join(error.errors)) from error
        await lifecycle.add_responders(
            session=session, incident=incident, agent=agent, requester=user, users=users,
            message=body.message or f'Please help with "{incident.title}"')
        return f"Requested {', '.join(person.name for person in users)} as responders."

    return await _act(request, viewer, session, incident_id,
                      ActionForm({"message": message}, chosen=user_id), "responders", change)


# Log entries


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
