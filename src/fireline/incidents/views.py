"""REST API v2 for services, incidents, notes, log entries and priorities (PagerDuty shapes).

Each route parses, authorizes through `incidents.access`, calls a service function, commits,
and shapes the answer. List filters use PagerDuty's bracketed names (`statuses[]`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request

from fireline.accounts.models import User
from fireline.accounts.permissions import CurrentPrincipal, Principal, Session
from fireline.core.clock import utc_bound
from fireline.core.errors import InvalidInputError
from fireline.core.pagination import Pagination
from fireline.incidents import access, catalog, lifecycle, listing, shapes, timeline
from fireline.incidents.models import Incident
from fireline.incidents.responders import ResponderRequestCreate, responder_request_body
from fireline.incidents.schemas import (
    BulkIncidentUpdate,
    IncidentCreate,
    IncidentUpdate,
    IntegrationCreate,
    NoteCreate,
    ServiceCreate,
)
from fireline.incidents.timeline import Agent

router = APIRouter(prefix="/api", tags=["incidents"])

FromHeader = Annotated[str | None, Header(alias="From")]
Include = Annotated[list[str], Query(alias="include[]")]


def _base(request: Request) -> str:
    return str(request.app.state.settings.base_url)


def _list(name: str) -> Any:
    return Query(alias=f"{name}[]")


async def writer(session: Session, principal: Principal, from_header: str | None) -> tuple[
    User, Agent
]:
    """Who a write is attributed to, and as what agent; refuses roles that may not write
    (also for `status_update_views`)."""
    access.require_incident_writer(principal)
    user = await access.acting_user(session=session, principal=principal,
                                    from_header=from_header)
    return user, Agent.user(user, "website" if principal.via == "session" else "api")


# Services ---------------------------------------------------------------------------------

@router.post("/services", status_code=201)
async def create_service(
    body: ServiceCreate, request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    access.require_service_admin(principal)
    service = await catalog.create_service(session=session, data=body.service)
    await session.commit()
    return {"service": shapes.service_body(_base(request), service, [])}


@router.get("/services")
async def list_services(
    request: Request, principal: CurrentPrincipal, session: Session, page: Pagination,
    query: str | None = None, team_ids: Annotated[list[str], _list("team_ids")] = [],  # noqa: B006
) -> dict[str, Any]:
    found = await catalog.list_services(session=session, params=page, query=query,
                                        team_ids=team_ids)
    integrations = await catalog.integrations_of(
        session=session, service_ids=[item.id for item in found.items])
    return found.body("services", [
        shapes.service_body(_base(request), item, integrations[item.id])
        for item in found.items])


@router.get("/services/{service_id}")
async def get_service(
    service_id: str, request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    service = await catalog.get_service(session=session, service_id=service_id)
    integrations = await catalog.integrations_of(session=session, service_ids=[service.id])
    return {"service": shapes.service_body(_base(request), service, integrations[service.id])}


@router.post("/services/{service_id}/integrations", status_code=201)
async def create_integration(
    service_id: str, body: IntegrationCreate, request: Request, principal: CurrentPrincipal,
    session: Session,
) -> dict[str, Any]:
    access.require_service_admin(principal)
    integration = await catalog.create_integration(
        session=session, service_id=service_id, data=body.integration)
    await session.commit()
    return {"integration": shapes.integration_body(_base(request), integration)}


@router.get("/services/{service_id}/integrations/{integration_id}")
async def get_integration(
    service_id: str, integration_id: str, request: Request, principal: CurrentPrincipal,
    session: Session,
) -> dict[str, Any]:
    integration = await catalog.get_integration(
        session=session, service_id=service_id, integration_id=integration_id)
    return {"integration": shapes.integration_body(_base(request), integration)}


@router.get("/priorities")
async def list_priorities(
    request: Request, principal: CurrentPrincipal, session: Session, page: Pagination
) -> dict[str, Any]:
    rows = await catalog.priorities_for_reading(db=request.app.state.database,
                                                session=session)
    window = rows[page.offset: page.offset + page.limit]
    return {"priorities": [shapes.priority_body(_base(request), item) for item in window],
            "limit": page.limit, "offset": page.offset,
            "more": page.offset + page.limit < len(rows),
            "total": len(rows) if page.total else None}


# Incidents --------------------------------------------------------------------------------

@router.post("/incidents", status_code=201)
async def create_incident(
    body: IncidentCreate, request: Request, principal: CurrentPrincipal, session: Session,
    from_header: FromHeader = None,
) -> dict[str, Any]:
    _, agent = await writer(session, principal, from_header)
    incident = await lifecycle.create_incident(session=session, agent=agent, data=body.incident)
    await session.commit()
    return {"incident": shapes.incident_body(_base(request), incident, with_body=True)}


@router.get("/incidents")
async def list_incidents(
    request: Request, principal: CurrentPrincipal, session: Session, page: Pagination,
    statuses: Annotated[list[str], _list("statuses")] = [],  # noqa: B006
    service_ids: Annotated[list[str], _list("service_ids")] = [],  # noqa: B006
    team_ids: Annotated[list[str], _list("team_ids")] = [],  # noqa: B006
    user_ids: Annotated[list[str], _list("user_ids")] = [],  # noqa: B006
    urgencies: Annotated[list[str], _list("urgencies")] = [],  # noqa: B006
    sort_by: Annotated[list[str], Query()] = [],  # noqa: B006
    include: Include = [],  # noqa: B006
    incident_key: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    filters = listing.IncidentFilters(
        statuses=statuses, service_ids=service_ids, team_ids=team_ids, user_ids=user_ids,
        urgencies=urgencies, incident_key=incident_key, since=utc_bound(since),
        until=utc_bound(until),
        sort_by=[part for item in sort_by for part in item.split(",") if part],
    )
    found = await listing.list_incidents(
        session=session, principal=principal, filters=filters, params=page)
    base, wanted = _base(request), frozenset(include)
    refs = shapes.Refs(base)
    bodies = [shapes.incident_body(base, item, include=wanted, refs=refs)
              for item in found.items]
    if "services" in wanted:
        services = await catalog.services_by_id(
            session=session, ids=[item.service_id for item in found.items])
        for body in bodies:
            body["service"] = shapes.service_body(base, services[body["service"]["id"]], [])
    return found.body("incidents", bodies)


@router.put("/incidents")
async def update_incidents(
    body: BulkIncidentUpdate, request: Request, principal: CurrentPrincipal, session: Session,
    from_header: FromHeader = None,
) -> dict[str, Any]:
    user, agent = await writer(session, principal, from_header)
    await access.lock_incidents(session=session, ids=[changes.id for changes in body.incidents])
    updated: list[Incident] = []
    for changes in body.incidents:
        incident = await access.visible_incident(
            session=session, principal=principal, incident_id=changes.id, for_update=True)
        updated.append(await lifecycle.apply_changes(
            session=session, incident=incident, agent=agent, author=user, changes=changes))
    await session.commit()
    return {"incidents": [shapes.incident_body(_base(request), item) for item in updated]}


@router.get("/incidents/{incident_id}")
async def get_incident(
    incident_id: str, request: Request, principal: CurrentPrincipal, session: Session,
    include: Include = [],  # noqa: B006
) -> dict[str, Any]:
    incident = await access.visible_incident(
        session=session, principal=principal, incident_id=incident_id)
    body = shapes.incident_body(_base(request), incident, with_body=True,
                                include=frozenset(include))
    if "services" in include:
        body["service"] = shapes.service_body(_base(request), incident.service, [])
    return {"incident": body}


@router.put("/incidents/{incident_id}")
async def update_incident(
    incident_id: str, body: IncidentUpdate, request: Request, principal: CurrentPrincipal,
    session: Session, from_header: FromHeader = None,
) -> dict[str, Any]:
    user, agent = await writer(session, principal, from_header)
    incident = await access.visible_incident(
        session=session, principal=principal, incident_id=incident_id, for_update=True)
    await lifecycle.apply_changes(
        session=session, incident=incident, agent=agent, author=user, changes=body.incident)
    await session.commit()
    return {"incident": shapes.incident_body(_base(request), incident, with_body=True)}


@router.post("/incidents/{incident_id}/notes", status_code=201)
async def create_note(
    incident_id: str, body: NoteCreate, request: Request, principal: CurrentPrincipal,
    session: Session, from_header: FromHeader = None,
) -> dict[str, Any]:
    user, _ = await writer(session, principal, from_header)
    incident = await access.visible_incident(
        session=session, principal=principal, incident_id=incident_id, for_update=True)
    note = await lifecycle.add_note(
        session=session, incident=incident, author=user, content=body.note.content)
    await session.commit()
    return {"note": shapes.note_body(_base(request), note)}


@router.get("/incidents/{incident_id}/notes")
async def list_notes(
    incident_id: str, request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    incident = await access.visible_incident(
        session=session, principal=principal, incident_id=incident_id)
    notes = await lifecycle.list_notes(session=session, incident=incident)
    return {"notes": [shapes.note_body(_base(request), note) for note in notes]}


@router.post("/incidents/{incident_id}/responder_requests")
async def create_responder_request(
    incident_id: str, body: ResponderRequestCreate, request: Request,
    principal: CurrentPrincipal, session: Session, from_header: FromHeader = None,
) -> dict[str, Any]:
    user, agent = await writer(session, principal, from_header)
    incident = await access.visible_incident(
        session=session, principal=principal, incident_id=incident_id, for_update=True)
    if body.requester_id != user.id:
        raise InvalidInputError(errors=["requester_id must be the user making the request"])
    if policies := body.escalation_policy_ids():
        raise InvalidInputError(errors=[f"Escalation policy {id_} not found" for id_ in policies])
    users = await catalog.users_by_id(session=session, ids=body.user_ids(), label="User")
    message = body.message or f'Please help with "{incident.title}"'
    await lifecycle.add_responders(session=session, incident=incident, agent=agent,
                                   requester=user, users=users, message=message)
    await session.commit()
    return {"responder_request": responder_request_body(
        _base(request), incident, user, users, message)}


# Log entries ------------------------------------------------------------------------------

async def _log_entries(
    request: Request, principal: Principal, session: Session, page: Any,
    include: list[str], since: datetime | None, until: datetime | None, is_overview: bool,
    incident_id: str | None = None,
) -> dict[str, Any]:
    found, incidents = await timeline.list_log_entries(
        session=session, principal=principal, params=page, incident_id=incident_id,
        since=utc_bound(since), until=utc_bound(until), is_overview=is_overview)
    wanted = frozenset(include)
    return found.body("log_entries", [
        shapes.log_entry_body(_base(request), entry, incidents[entry.incident_id],
                              include=wanted)
        for entry in found.items])


@router.get("/log_entries")
async def list_log_entries(
    request: Request, principal: CurrentPrincipal, session: Session, page: Pagination,
    include: Include = [],  # noqa: B006
    since: datetime | None = None, until: datetime | None = None, is_overview: bool = False,
) -> dict[str, Any]:
    return await _log_entries(request, principal, session, page, include, since, until,
                              is_overview)


@router.get("/incidents/{incident_id}/log_entries")
async def list_incident_log_entries(
    incident_id: str, request: Request, principal: CurrentPrincipal, session: Session,
    page: Pagination, include: Include = [],  # noqa: B006
    since: datetime | None = None, until: datetime | None = None, is_overview: bool = False,
) -> dict[str, Any]:
    return await _log_entries(request, principal, session, page, include, since, until,
                              is_overview, incident_id)


@router.get("/log_entries/{entry_id}")
async def get_log_entry(
    entry_id: str, request: Request, principal: CurrentPrincipal, session: Session,
    include: Include = [],  # noqa: B006
) -> dict[str, Any]:
    entry, incident = await timeline.get_log_entry(
        session=session, principal=principal, entry_id=entry_id)
    return {"log_entry": shapes.log_entry_body(_base(request), entry, incident,
                                               include=frozenset(include))}

