"""`GET /incidents`: the filtered, sorted page of incidents, read with one Core query.

The list is the platform's busiest read. Loading it as ORM entities with their joined
relations cost several times the query itself, so it reads plain rows — the page of
incidents in a subquery, joined to its service, team, priority and assignees — into small
views that `shapes` renders exactly like the ORM objects (both satisfy its protocols).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.models import Team, User
from fireline.accounts.permissions import Principal
from fireline.core.db import UTCDateTime
from fireline.core.errors import InvalidInputError
from fireline.core.pagination import Page, PageParams
from fireline.incidents import access
from fireline.incidents.models import Incident, IncidentAssignment, Priority, Service

SORT_COLUMNS = {
    "incident_number": Incident.incident_number,
    "created_at": Incident.created_at,
    "resolved_at": Incident.resolved_at,
    "urgency": Incident.urgency,
}


@dataclass(frozen=True)
class IncidentFilters:
    statuses: list[str] = field(default_factory=list)
    service_ids: list[str] = field(default_factory=list)
    team_ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    urgencies: list[str] = field(default_factory=list)
    incident_key: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort_by: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TeamView:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ServiceView:
    id: str
    name: str
    team: TeamView | None


@dataclass(frozen=True, slots=True)
class UserView:
    id: str
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class AssignmentView:
    at: datetime
    user: UserView


@dataclass(frozen=True, slots=True)
class PriorityView:
    id: str
    name: str
    description: str
    color: str
    order: int


@dataclass(slots=True)
class IncidentView:
    id: str
    incident_number: int
    title: str
    details: str | None
    status: str
    urgency: str
    incident_key: str
    service_id: str
    priority_id: str | None
    last_status_change_by: dict[str, Any]
    acknowledgements: list[dict[str, Any]]
    alert_count: int
    first_trigger_log_entry_id: str | None
    created_at: datetime
    updated_at: datetime
    last_status_change_at: datetime
    resolved_at: datetime | None
    conference_number: str | None
    conference_url: str | None
    service: ServiceView
    priority: PriorityView | None
    assignments: list[AssignmentView]


_INCIDENT_FIELDS = tuple(column.key for column in Incident.__table__.columns)
# A listed row starts with the incident's columns, in the order of the view's first fields.
assert tuple(item.name for item in fields(IncidentView))[:len(_INCIDENT_FIELDS)] == (
    _INCIDENT_FIELDS)

# Each filter as a predicate over bound parameters (lists bind as expanding IN parameters),
# so a statement depends only on which filters are present, never on their values.
_FILTERS: dict[str, Callable[[], ColumnElement[bool]]] = {
    "statuses": lambda: Incident.status.in_(bindparam("statuses", expanding=True)),
    "service_ids": lambda: Incident.service_id.in_(bindparam("service_ids", expanding=True)),
    "team_ids": lambda: Incident.service_id.in_(
        select(Service.id).where(Service.team_id.in_(bindparam("team_ids", expanding=True)))),
    "user_ids": lambda: Incident.id.in_(
        select(IncidentAssignment.incident_id)
        .where(IncidentAssignment.user_id.in_(bindparam("user_ids", expanding=True)))),
    "urgencies": lambda: Incident.urgency.in_(bindparam("urgencies", expanding=True)),
    "incident_key": lambda: Incident.incident_key == bindparam("incident_key"),
    "since": lambda: Incident.created_at >= bindparam("since", type_=UTCDateTime),
    "until": lambda: Incident.created_at < bindparam("until", type_=UTCDateTime),
}


def _filtered(present: frozenset[str], restricted: bool) -> Select[Any]:
    statement = select(*Incident.__table__.columns)
    if restricted:
        statement = statement.where(access.assigned_to(bindparam("viewer_id")))
    return statement.where(*(_FILTERS[name]() for name in sorted(present)))


def sort_keys(sort_by: list[str]) -> tuple[tuple[str, bool], ...]:
    """(column key, descending) pairs; the incident number breaks ties (a stable order)."""
    keys = []
    for item in sort_by:
        name, _, direction = item.partition(":")
        if name not in SORT_COLUMNS or direction not in {"", "asc", "desc"}:
            raise InvalidInputError(errors=[f"Invalid sort_by value {item!r}"])
        keys.append((SORT_COLUMNS[name].key, direction == "desc"))
    return (*keys, ("incident_number", False))


def _ordered(columns: Any, keys: tuple[tuple[str, bool], ...]) -> list[ColumnElement[Any]]:
    return [columns[key].desc() if descending else columns[key].asc()
            for key, descending in keys]


# Building the statement costs more than running it, so each shape is built once.
@functools.lru_cache(maxsize=512)
def page_statement(
    present: frozenset[str], restricted: bool, keys: tuple[tuple[str, bool], ...]
) -> Select[Any]:
    page = (_filtered(present, restricted).order_by(*_ordered(Incident.__table__.c, keys))
            .limit(bindparam("page_limit")).offset(bindparam("page_offset")).subquery("page"))
    return (
        select(page, Service.name.label("service_name"), Team.id.label("team_id"),
               Team.name.label("team_name"), Priority.name.label("priority_name"),
               Priority.description.label("priority_description"),
               Priority.color.label("priority_color"), Priority.order.label("priority_order"),
               IncidentAssignment.at.label("assigned_at"), User.id.label("assignee_id"),
               User.name.label("assignee_name"), User.email.label("assignee_email"))
        .join(Service, Service.id == page.c.service_id)
        .outerjoin(Team, Team.id == Service.team_id)
        .outerjoin(Priority, Priority.id == page.c.priority_id)
        .outerjoin(IncidentAssignment, IncidentAssignment.incident_id == page.c.id)
        .outerjoin(User, User.id == IncidentAssignment.user_id)
        .order_by(*_ordered(page.c, keys), IncidentAssignment.at, IncidentAssignment.user_id)
    )


@functools.lru_cache(maxsize=512)
def _count_statement(present: frozenset[str], restricted: bool) -> Select[Any]:
    return select(func.count()).select_from(_filtered(present, restricted).subquery())


async def list_incidents(
    *, session: AsyncSession, principal: Principal, filters: IncidentFilters,
    params: PageParams,
) -> Page[IncidentView]:
    values: dict[str, Any] = {
        name: value for name in _FILTERS if (value := getattr(filters, name))}
    present, restricted = frozenset(values), access.sees_only_assigned(principal)
    if restricted:
        values["viewer_id"] = principal.user.id
    # One row beyond the page says whether there is more (no count unless asked).
    statement = page_statement(present, restricted, sort_keys(filters.sort_by))
    # On the session's connection: these are Core selects of plain rows, which the ORM's
    # execution layer would only slow down.
    connection = await session.connection()
    rows = (await connection.execute(statement, {
        **values, "page_limit": params.limit + 1, "page_offset": params.offset})).all()
    views = _views(rows)
    total = None
    if params.total:
        total = int(await connection.scalar(_count_statement(present, restricted), values) or 0)
    return Page(views[: params.limit], params, len(views) > params.limit, total)


def _views(rows: Sequence[Any]) -> list[IncidentView]:
    """Folds the joined rows (one per assignee) into one view per incident, in order."""
    views: list[IncidentView] = []
    for row in rows:
        if not views or views[-1].id != row.id:
            team = TeamView(row.team_id, row.team_name) if row.team_id else None
            priority = (
                PriorityView(row.priority_id, row.priority_name, row.priority_description,
                             row.priority_color, row.priority_order)
                if row.priority_id else None)
            views.append(IncidentView(  # type: ignore[call-arg]
                *row[:len(_INCIDENT_FIELDS)],
                ServiceView(row.service_id, row.service_name, team), priority, []))
        if row.assignee_id is not None:
            views[-1].assignments.append(AssignmentView(
                row.assigned_at, UserView(row.assignee_id, row.assignee_name,
                                          row.assignee_email)))
    return views
