"""Pages of the incidents domain (see DESIGN.md, the web app): the incident list, an
incident with its timeline, notes, status updates, stakeholders and conference bridge, and log
entries (which live on their incident's page).

The list filters as PagerDuty's does — status, urgency, service, team, assigned to me and the
dates created (the last 30 days unless the dates or "all dates" say otherwise) — through a GET
form, so a filtered list is a URL to share. Its table is a partial of its own, which the page
polls with htmx. Responders acknowledge or resolve the rows they tick in bulk; on an
incident's page they add notes, acknowledge, resolve, reassign, change urgency or priority, add
responders, send status updates, add or remove stakeholders and set the conference bridge.
Opening an incident marks the status updates it sent the viewer read.

Every page reads and writes through the functions the REST views call, with the signed-in
user's principal and the same checks, so a page shows and does exactly what the API would for
that user: an incident a restricted user is not assigned to is the 404 page, as it is a 404 in
the API; a role that may not change incidents sees no action forms, and its POST is the 403
page. A refused form comes back with status 400, the message beside its field and what was
typed kept; htmx posts the status-update forms and swaps a refused one in place (the section
alone), and follows a success's redirect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts import service as accounts
from fireline.accounts.models import Team, User
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
from fireline.incidents import access, catalog, lifecycle, listing, status_updates, timeline
from fireline.incidents.models import Incident, LogEntry
from fireline.incidents.responders import ResponderRequestCreate
from fireline.incidents.schemas import (
    BulkIncidentUpdate,
    ConferenceBridge,
    IncidentChanges,
    NoteFields,
    Urgency,
)
from fireline.incidents.status_updates import NotificationSubscriber, StatusUpdateCreate

# The REST list's own conversion of `since`/`until` to UTC: the page must not disagree.
from fireline.web.frame import (
    CurrentViewer,
    FormState,
    Viewer,
    is_htmx,
    permits,
    redirect,
    render,
    with_unread,
)

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
    "status_update_log_entry": "Status update",
    "conference_bridge_change_log_entry": "Conference bridge changed",
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
    await access.lock_incidents(session=session, ids=[changes.id for changes in body.incidents])
    changed, already, refused = 0, 0, []
    for changes in body.incidents:
        try:
            incident = await access.visible_incident(
                session=session, principal=viewer.principal, incident_id=changes.id,
                for_update=True)
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
    if await status_updates.has_unread(session=session, user=viewer.user,
                                       incident_id=incident.id):
        # Written apart from this reading session, as `priorities_for_reading` writes (on
        # SQLite a reading transaction may not upgrade to write); then a new snapshot.
        async with request.app.state.database.transaction() as writer:
            await status_updates.mark_read(session=writer, user=viewer.user,
                                           incident_id=incident.id)
        await session.commit()
        viewer = await with_unread(session, viewer)
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


_ACTIONS = ("note", "status", "assign", "urgency", "priority", "responders", "status_update",
            "stakeholders", "bridge")
# The page shows this many status updates, newest first; the timeline has every one.
STATUS_UPDATES_SHOWN = 50


@dataclass(frozen=True)
class StatusUpdateRow:
    id: str
    sender: User | None
    at: datetime
    subject: str | None
    message: str
    # Sanitised when it was stored, and again here as it is shown.
    html: Markup | None


def status_update_row(item: status_updates.StatusUpdate) -> StatusUpdateRow:
    html = (Markup(status_updates.sanitise_html(item.html_message))  # noqa: S704
            if item.html_message else None)
    return StatusUpdateRow(item.id, item.sender, item.created_at, item.subject, item.message,
                           html)


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
        "bridge": ActionForm({"conference_number": incident.conference_number or "",
                              "conference_url": incident.conference_url or ""}),
    }
    updates = await status_updates.list_status_updates(
        session=session, incident=incident, params=PageParams(limit=STATUS_UPDATES_SHOWN))
    stakeholders = (await status_updates.list_subscribers(
        session=session, incident=incident, params=PageParams(limit=MAX_LIMIT))).items
    return {
        "status_updates": [status_update_row(item) for item in updates.items],
        "more_status_updates": updates.more, "stakeholders": stakeholders,
        "subscribed": {f"{item.subscriber_type}:{item.subscriber_id}" for item in stakeholders},
        "teams": [team for team, _ in await accounts.list_teams(session=session)]
        if may_change else [],
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


def _valid(model: type[M], data: dict[str, Any], field_name: str, empty: str,
           fields: Collection[str] = ()) -> M:
    """`data` checked by the REST request schema; a refusal names the form's field: the one
    of `fields` it is about (the form's names are the schema's), else `field_name`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        item = exc.errors()[0]
        short = item["type"] in {"string_too_short", "too_short", "missing"}
        where = str(item["loc"][0]) if item["loc"] and item["loc"][0] in fields else field_name
        raise InvalidFieldError(where, empty if short else validation_message(item)
                                ) from exc


Change = Callable[[Incident, User, timeline.Agent], Awaitable[str]]


async def _act(request: Request, viewer: Viewer, session: AsyncSession, incident_id: str,
               form: ActionForm, name: str, change: Change, field_name: str | None = None,
               partial: str | None = None) -> Response:
    """Runs one action's `change` (which returns the flash text): a 303 back to the
    incident, or the page again with status 400 and `form` showing why — beside
    `field_name` when the refusal names no field of its own. htmx gets the `partial`
    template alone when there is one."""
    user, agent = await _writer(session, viewer)
    incident = await access.visible_incident(
        session=session, principal=viewer.principal, incident_id=incident_id, for_update=True)
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
        return await _refused_page(request, viewer, session, incident_id, name, form, partial)
    await session.commit()
    return redirect(request, f"/incidents/{incident_id}", flash=flash)


async def _refused_page(request: Request, viewer: Viewer, session: AsyncSession,
                        incident_id: str, name: str, form: ActionForm,
                        partial: str | None = None) -> HTMLResponse:
    incident = await access.visible_incident(
        session=session, principal=viewer.principal, incident_id=incident_id)
    context = await incident_context(session=session, principal=viewer.principal,
                                     incident=incident, forms={name: form})
    template = partial if partial and is_htmx(request) else "incidents/detail.html"
    return render(request, template, 400, viewer=viewer, **context)


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


# Status updates, stakeholders and the conference bridge (incidents.status_updates)

_STATUS_UPDATES = "incidents/_status_updates.html"


@router.post("/incidents/{incident_id}/status_updates")
async def send_status_update(incident_id: str, request: Request, viewer: CurrentViewer,
                             session: Session, message: str = Form(""),
                             subject: str = Form("")) -> Response:
    async def change(incident: Incident, user: User, agent: timeline.Agent) -> str:
        body = _valid(StatusUpdateCreate,
                      {"message": message.strip(), "subject": subject.strip() or None},
                      "message", "Write the status update first.", ("message", "subject"))
        sent = await status_updates.send_status_update(
            session=session, incident=incident, agent=agent, sender=user,
            message=body.message, subject=body.subject)
        if not sent.notified:
            return "Status update sent; no stakeholder to notify."
        return f"Status update sent; {_count(sent.notified, 'user')} notified."

    return await _act(request, viewer, session, incident_id,
                      ActionForm({"message": message, "subject": subject}), "status_update",
                      change, "message", _STATUS_UPDATES)


def _subscriber(value: str) -> NotificationSubscriber:
    """`user:<id>` or `team:<id>`, as the stakeholder forms send it."""
    kind, _, id_ = value.partition(":")
    return _valid(NotificationSubscriber, {"subscriber_type": kind, "subscriber_id": id_},
                  "subscriber", "Choose a user or a team.")


async def _named(session: AsyncSession, subscriber: NotificationSubscriber) -> str:
    found = await session.get(User if subscriber.subscriber_type == "user" else Team,
                              subscriber.subscriber_id)
    if isinstance(found, User | Team):
        return found.name
    return f"{subscriber.subscriber_type.capitalize()} {subscriber.subscriber_id}"


@router.post("/incidents/{incident_id}/stakeholders")
async def add_stakeholder(incident_id: str, request: Request, viewer: CurrentViewer,
                          session: Session, subscriber: str = Form("")) -> Response:
    async def change(incident: Incident, _user: User, _agent: timeline.Agent) -> str:
        wanted = _subscriber(subscriber)
        try:
            [(_, result)] = await status_updates.add_subscribers(
                session=session, incident=incident, subscribers=[wanted])
        except InvalidInputError as error:  # "Team P123 not found"
            raise InvalidFieldError("subscriber", "; ".join(error.errors)) from error
        name = await _named(session, wanted)
        return (f"{name} is a stakeholder already." if result == "duplicate"
                else f"{name} will be notified of status updates.")

    return await _act(request, viewer, session, incident_id,
                      ActionForm({"subscriber": subscriber}), "stakeholders", change,
                      "subscriber", _STATUS_UPDATES)


@router.post("/incidents/{incident_id}/stakeholders/{subscriber_type}/{subscriber_id}/remove")
async def remove_stakeholder(incident_id: str, subscriber_type: str, subscriber_id: str,
                             request: Request, viewer: CurrentViewer,
                             session: Session) -> Response:
    async def change(incident: Incident, _user: User, _agent: timeline.Agent) -> str:
        try:
            wanted = _subscriber(f"{subscriber_type}:{subscriber_id}")
        except InvalidFieldError as error:  # about the button, not the field to add one
            raise InvalidInputError(error.message) from error
        removed = await status_updates.remove_subscribers(
            session=session, incident=incident, subscribers=[wanted])
        name = await _named(session, wanted)
        return (f"{name} is no longer a stakeholder." if removed.deleted
                else f"{name} was not a stakeholder.")

    return await _act(request, viewer, session, incident_id, ActionForm(), "stakeholders",
                      change, partial=_STATUS_UPDATES)


@router.post("/incidents/{incident_id}/conference_bridge")
async def set_conference_bridge(incident_id: str, request: Request, viewer: CurrentViewer,
                                session: Session, conference_number: str = Form(""),
                                conference_url: str = Form("")) -> Response:
    """Both fields empty (the Remove button sends neither) removes the bridge."""
    typed = {"conference_number": conference_number, "conference_url": conference_url}

    async def change(incident: Incident, _user: User, agent: timeline.Agent) -> str:
        bridge = _valid(ConferenceBridge, typed, "conference_url", "", tuple(typed))
        changed = status_updates.set_conference_bridge(
            session=session, incident=incident, agent=agent,
            bridge=bridge if bridge.is_set else None)
        if not changed:
            return "The conference bridge is unchanged."
        return "Conference bridge set." if bridge.is_set else "Conference bridge removed."

    return await _act(request, viewer, session, incident_id, ActionForm(typed), "bridge",
                      change, "conference_url", _STATUS_UPDATES)


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
