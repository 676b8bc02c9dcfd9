"""Log entries: every change to an incident writes one, in the change's own transaction.

Types are PagerDuty's (`trigger_log_entry`, `acknowledge_log_entry`, `resolve_log_entry`,
`assign_log_entry`, `annotate_log_entry`, `urgency_change_log_entry`,
`responder_request_log_entry`) plus `priority_change_log_entry` for priority changes. The
agent is a user (REST, UI) or the service (Events API); its summary is frozen when written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, select
from sqlalchemy import insert as insert_statement
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from fireline.accounts.models import User
from fireline.accounts.permissions import Principal
from fireline.core.clock import utcnow
from fireline.core.errors import NotFoundError
from fireline.core.ids import new_id
from fireline.core.pagination import Page, PageParams, paginate
from fireline.incidents import access
from fireline.incidents.models import Incident, LogEntry, Service

# Log entry types that make up PagerDuty's "overview" (is_overview=true): state changes.
OVERVIEW_TYPES = (
    "trigger_log_entry", "acknowledge_log_entry", "resolve_log_entry", "assign_log_entry",
    "annotate_log_entry", "urgency_change_log_entry", "priority_change_log_entry",
    "responder_request_log_entry",
)


@dataclass(frozen=True)
class Agent:
    type: str  # "user_reference" | "service_reference"
    id: str
    summary: str
    channel: str  # PagerDuty channel type: "api", "web_trigger", "website"

    @classmethod
    def user(cls, user: User, channel: str = "api") -> Agent:
        return cls("user_reference", user.id, user.name, channel)

    @classmethod
    def service(cls, service: Service) -> Agent:
        return cls("service_reference", service.id, service.name, "api")

    def stored(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "summary": self.summary}


@dataclass(frozen=True)
class IncidentKeys:
    """What a log entry needs of its incident, for writers that have not loaded it."""

    id: str
    service_id: str


def _values(
    *, incident: Incident | IncidentKeys, type_: str, agent: Agent, summary: str,
    channel: dict[str, Any] | None, details: dict[str, Any] | None, at: datetime | None,
    id_: str | None,
) -> dict[str, Any]:
    return {
        "id": id_ or new_id(), "type": type_, "incident_id": incident.id,
        "service_id": incident.service_id, "agent": agent.stored(),
        "channel": {"type": agent.channel, **(channel or {})}, "summary": summary[:1024],
        "details": details or {}, "created_at": at or utcnow(),
    }


def record(
    *, session: AsyncSession | Session, incident: Incident | IncidentKeys, type_: str,
    agent: Agent,
    summary: str,
    channel: dict[str, Any] | None = None, details: dict[str, Any] | None = None,
    at: datetime | None = None, id_: str | None = None,
) -> LogEntry:
    entry = LogEntry(**_values(incident=incident, type_=type_, agent=agent, summary=summary,
                               channel=channel, details=details, at=at, id_=id_))
    session.add(entry)
    return entry


async def insert(
    *, session: AsyncSession, incident: Incident | IncidentKeys, type_: str, agent: Agent,
    summary: str, channel: dict[str, Any] | None = None, details: dict[str, Any] | None = None,
    at: datetime | None = None, id_: str | None = None,
) -> None:
    """`record` as one INSERT statement, for hot paths that keep no ORM objects (every new
    incident its trigger entry)."""
    connection = await session.connection()
    await connection.execute(_INSERT, _values(
        incident=incident, type_=type_, agent=agent, summary=summary, channel=channel,
        details=details, at=at, id_=id_))


def insert_sync(
    *, connection: Connection, incident: Incident | IncidentKeys, type_: str, agent: Agent,
    summary: str, details: dict[str, Any] | None = None, at: datetime | None = None,
) -> None:
    """`insert` inside synchronous work (the workflow engine writes one per step)."""
    connection.execute(_INSERT, _values(
        incident=incident, type_=type_, agent=agent, summary=summary, channel=None,
        details=details, at=at, id_=None))


_INSERT = insert_statement(cast(Table, LogEntry.__table__))


def _query(principal: Principal) -> Select[LogEntry]:
    statement = select(LogEntry).join(Incident, Incident.id == LogEntry.incident_id)
    return access.restrict_visible(principal, statement)


async def list_log_entries(
    *, session: AsyncSession, principal: Principal, params: PageParams,
    incident_id: str | None = None, since: datetime | None = None,
    until: datetime | None = None, is_overview: bool = False,
) -> tuple[Page[LogEntry], dict[str, Incident]]:
    statement = _query(principal)
    if incident_id is not None:
        await access.visible_incident(session=session, principal=principal,
                                      incident_id=incident_id)
        statement = statement.where(LogEntry.incident_id == incident_id)
    if since is not None:
        statement = statement.where(LogEntry.created_at >= since)
    if until is not None:
        statement = statement.where(LogEntry.created_at < until)
    if is_overview:
        statement = statement.where(LogEntry.type.in_(OVERVIEW_TYPES))
    page = await paginate(
        session, statement.order_by(LogEntry.created_at.desc(), LogEntry.id.desc()), params)
    return page, await _incidents_of(session, page.items)


async def get_log_entry(
    *, session: AsyncSession, principal: Principal, entry_id: str
) -> tuple[LogEntry, Incident]:
    entry = await session.scalar(_query(principal).where(LogEntry.id == entry_id))
    if entry is None:
        raise NotFoundError("Log Entry Not Found")
    incident = await session.get(Incident, entry.incident_id)
    assert incident is not None  # the foreign key guarantees it
    return entry, incident


async def _incidents_of(session: AsyncSession, entries: list[LogEntry]) -> dict[str, Incident]:
    ids = {entry.incident_id for entry in entries}
    if not ids:
        return {}
    rows = await session.scalars(select(Incident).where(Incident.id.in_(ids)))
    return {incident.id: incident for incident in rows.unique()}
