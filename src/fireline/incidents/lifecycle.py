"""Incidents and their notes: create, list, acknowledge, resolve, reassign, reprioritize,
add responders.

Every change writes its log entry (timeline) and, where a workflow may start, its outbox
event, in the caller's transaction. Two rules live in the schema, not in pre-checks:
- numbers: `incident_counters` is incremented with `UPDATE ... RETURNING`, whose lock makes
  concurrent creators take turns, so numbers are unique and increase with commit order;
- WF-2: an open incident's `incident_key` is unique per service (a partial unique index).
  The insert is `INSERT ... ON CONFLICT DO NOTHING` aimed at that index. A REST create that
  collides answers PagerDuty's 400/2002; Events API intake appends to the incident that won
  instead (`open_incident` returns None and the caller re-reads).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from fireline.accounts.models import User
from fireline.core.clock import isoformat, utcnow
from fireline.core.db import dialect_name, first_unique, insert_for, insert_for_dialect
from fireline.core.errors import ArgumentsCausedError, InvalidInputError
from fireline.core.ids import new_id
from fireline.incidents import catalog, outbox, status_updates, timeline
from fireline.incidents.models import (
    OPEN,
    Incident,
    IncidentAssignment,
    IncidentCounter,
    Note,
    Priority,
    Service,
)
from fireline.incidents.schemas import IncidentChanges, IncidentFields
from fireline.incidents.timeline import Agent

DEDUP_CONFLICT = "Open incident with matching dedup key already exists on this service"
_COUNTER = "incidents"
_INCIDENT_FIELDS = tuple(column.key for column in Incident.__table__.columns)
# The hot statements are built once: building them cost more than running them.
_COUNTERS = cast(Table, IncidentCounter.__table__)
_BUMP = (
    update(_COUNTERS).where(_COUNTERS.c.name == _COUNTER)
    .values(value=_COUNTERS.c.value + 1).returning(_COUNTERS.c.value)
)


@functools.cache
def _insert_incident(dialect: str) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING RETURNING id` aimed at the open-key index (WF-2)."""
    return (insert_for_dialect(dialect)(cast(Table, Incident.__table__))
            .on_conflict_do_nothing(index_elements=["service_id", "incident_key"],
                                    index_where=OPEN)
            .returning(Incident.__table__.c.id))


async def next_incident_number(session: AsyncSession) -> int:
    # Core statements on the session's connection: the ORM's execution layer (bulk-update
    # bookkeeping, autoflush) is most of a one-row statement's cost, and nothing is pending.
    connection = await session.connection()
    number = await connection.scalar(_BUMP)
    if number is None:  # first incident ever: create the row, racing creators agree on it
        first = insert_for(session)(IncidentCounter).values(name=_COUNTER, value=0)
        await connection.execute(first.on_conflict_do_nothing())
        number = await connection.scalar(_BUMP)
    assert number is not None
    return int(number)


@dataclass
class NewIncident:
    service: Service
    title: str
    urgency: str
    incident_key: str
    details: str | None = None
    priority: Priority | None = None
    assignees: list[User] = field(default_factory=list)
    trigger_channel: dict[str, object] = field(default_factory=dict)
    alert_count: int = 0


async def open_incident(
    *, session: AsyncSession, agent: Agent, data: NewIncident
) -> Incident | None:
    """Creates the incident, or returns None when an open one with its key exists (WF-2)."""
    now = utcnow()
    trigger_id = new_id()  # known before the insert: no UPDATE afterwards to point at it
    incident = Incident(
        id=new_id(), incident_number=await next_incident_number(session),
        first_trigger_log_entry_id=trigger_id, title=data.title, details=data.details,
        status="triggered", urgency=data.urgency, incident_key=data.incident_key,
        service_id=data.service.id, priority_id=data.priority.id if data.priority else None,
        last_status_change_by=agent.stored(), acknowledgements=[],
        alert_count=data.alert_count, created_at=now, updated_at=now,
        last_status_change_at=now, resolved_at=None, conference_number=None,
        conference_url=None,
    )
    # WF-2: the partial unique index decides, in the insert itself. A conflict inserts
    # nothing (no exception, no savepoint); the caller's rollback or a gap in the numbers
    # is the only trace.
    row = {key: getattr(incident, key) for key in _INCIDENT_FIELDS}
    connection = await session.connection()
    inserted = await connection.scalar(_insert_incident(dialect_name(session)), row)
    if inserted is None:
        return None
    make_transient_to_detached(incident)
    session.add(incident)
    assignments = [IncidentAssignment(incident_id=incident.id, user=user, at=now)
                   for user in data.assignees]
    session.add_all(assignments)
    set_committed_value(incident, "service", data.service)
    set_committed_value(incident, "priority", data.priority)
    set_committed_value(incident, "assignments", assignments)
    # Its log entry and outbox event are plain inserts: every new incident writes them, and
    # the response needs neither back.
    await timeline.insert(
        session=session, incident=incident, type_="trigger_log_entry", agent=agent, id_=trigger_id,
        summary=f"Triggered through the {'API' if agent.channel == 'api' else 'website'}.",
        channel=data.trigger_channel, details={"event_details": {"description": data.title}},
        at=now,
    )
    await outbox.insert(session=session, kind="incident.triggered", incident=incident)
    if data.assignees:
        _record_assignment(session, incident, agent, data.assignees)
        await session.flush()
    return incident


async def find_open(
    *, session: AsyncSession, service_id: str, incident_key: str
) -> Incident | None:
    return await first_unique(session, select(Incident).where(
        Incident.service_id == service_id, Incident.incident_key == incident_key,
        Incident.status != "resolved"))


async def create_incident(
    *, session: AsyncSession, agent: Agent, data: IncidentFields
) -> Incident:
    """REST create; a duplicate open `incident_key` is PagerDuty's 400/2002."""
    service = await catalog.get_service(session=session, service_id=data.service.id)
    priority = (await catalog.get_priority(session=session, priority_id=data.priority.id)
                if data.priority else None)
    if data.assignments is not None:
        assignees = await catalog.users_by_id(
            session=session, ids=[item.assignee.id for item in data.assignments], label="User")
    else:
        assignees = [item.user for item in service.on_call]
    incident = await open_incident(session=session, agent=agent, data=NewIncident(
        service=service, title=data.title, urgency=data.urgency or "high",
        incident_key=data.incident_key or uuid.uuid4().hex,
        details=data.body.details if data.body else None, priority=priority,
        assignees=assignees,
    ))
    if incident is None:
        raise ArgumentsCausedError(errors=[DEDUP_CONFLICT])
    if data.conference_bridge is not None:
        status_updates.set_conference_bridge(session=session, incident=incident, agent=agent,
                                             bridge=data.conference_bridge)
    return incident


def _record_assignment(
    session: AsyncSession, incident: Incident, agent: Agent, users: list[User]
) -> None:
    names = ", ".join(user.name for user in users)
    timeline.record(
        session=session, incident=incident, type_="assign_log_entry", agent=agent,
        summary=f"Assigned to {names}.",
        details={"assignees": [Agent.user(user).stored() for user in users]},
    )


Transition = Literal["acknowledged", "resolved"]


def change_status(
    *, session: AsyncSession, incident: Incident, agent: Agent, status: Transition,
    channel: dict[str, object] | None = None,
) -> bool:
    """Acknowledges or resolves; returns False when there was nothing to change."""
    if incident.status == "resolved":
        if status == "resolved":
            return False
        raise InvalidInputError("Incident Already Resolved",
                                errors=["Incident Already Resolved"])
    now = utcnow()
    if status == "acknowledged":
        incident.acknowledgements = [
            *incident.acknowledgements, {"at": isoformat(now), "acknowledger": agent.stored()}]
        if incident.status == "acknowledged":
            return True
        summary = f"Acknowledged by {agent.summary}."
    else:
        incident.resolved_at = now
        summary = f"Resolved by {agent.summary}."
    incident.status = status
    incident.last_status_change_at = incident.updated_at = now
    incident.last_status_change_by = agent.stored()
    type_ = "acknowledge_log_entry" if status == "acknowledged" else "resolve_log_entry"
    timeline.record(session=session, incident=incident, type_=type_, agent=agent,
                    summary=summary, channel=channel, at=now)
    outbox.emit(session=session, kind=f"incident.{status}", incident=incident)
    return True


async def apply_changes(
    *, session: AsyncSession, incident: Incident, agent: Agent, author: User,
    changes: IncidentChanges,
) -> Incident:
    now = utcnow()
    if changes.title is not None and changes.title != incident.title:
        incident.title = changes.title
        outbox.emit(session=session, kind="incident.title_changed", incident=incident)
    if changes.urgency is not None and changes.urgency != incident.urgency:
        incident.urgency = changes.urgency
        timeline.record(session=session, incident=incident, type_="urgency_change_log_entry",
                        agent=agent, summary=f"Urgency changed to {changes.urgency}.",
                        details={"urgency": changes.urgency})
        outbox.emit(session=session, kind="incident.urgency_changed", incident=incident)
    if "priority" in changes.model_fields_set:
        await _change_priority(session, incident, agent, changes)
    if "conference_bridge" in changes.model_fields_set:
        status_updates.set_conference_bridge(session=session, incident=incident, agent=agent,
                                             bridge=changes.conference_bridge)
    if changes.assignments is not None:
        users = await catalog.users_by_id(
            session=session, ids=[item.assignee.id for item in changes.assignments],
            label="User")
        incident.assignments.clear()
        await session.flush()  # old rows go before new ones with the same key are added
        incident.assignments = [IncidentAssignment(user=user, at=now) for user in users]
        _record_assignment(session, incident, agent, users)
        outbox.emit(session=session, kind="incident.reassigned", incident=incident)
    if changes.resolution and changes.status == "resolved":
        await add_note(session=session, incident=incident, author=author,
                       content=changes.resolution)
    if changes.status is not None:
        change_status(session=session, incident=incident, agent=agent, status=changes.status)
    incident.updated_at = now
    await session.flush()
    return incident


async def add_responders(
    *, session: AsyncSession, incident: Incident, agent: Agent, requester: User,
    users: list[User], message: str,
) -> list[User]:
    """A responder request (PagerDuty's `POST /incidents/{id}/responder_requests`, user
    targets): the users join the incident at once as assignees, next to those already
    assigned — Fireline has no accept/decline step. Returns the users newly added."""
    if incident.status == "resolved":
        raise InvalidInputError("Incident Already Resolved",
                                errors=["Incident Already Resolved"])
    now = utcnow()
    present = {assignment.user_id for assignment in incident.assignments}
    requested = list({user.id: user for user in users}.values())
    added = [user for user in requested if user.id not in present]
    incident.assignments.extend(IncidentAssignment(user=user, at=now) for user in added)
    names = ", ".join(user.name for user in requested)
    timeline.record(
        session=session, incident=incident, type_="responder_request_log_entry", agent=agent,
        summary=f"{requester.name} requested {names} as responders.", at=now,
        details={"message": message, "requester": Agent.user(requester).stored(),
                 "assignees": [Agent.user(user).stored() for user in requested]},
    )
    outbox.emit(session=session, kind="incident.responders_added", incident=incident,
                extra={"requester_id": requester.id, "message": message,
                       "responders": [user.id for user in requested],
                       "added": [user.id for user in added]})
    incident.updated_at = now
    await session.flush()
    return added


async def _change_priority(
    session: AsyncSession, incident: Incident, agent: Agent, changes: IncidentChanges
) -> None:
    priority = (await catalog.get_priority(session=session, priority_id=changes.priority.id)
                if changes.priority else None)
    if (priority.id if priority else None) == incident.priority_id:
        return
    previous = incident.priority.name if incident.priority else None
    incident.priority = priority
    name = priority.name if priority else "none"
    timeline.record(session=session, incident=incident, type_="priority_change_log_entry",
                    agent=agent, summary=f"Priority changed to {name}.",
                    details={"priority": {"previous": previous, "current": name}})
    outbox.emit(session=session, kind="incident.priority_changed", incident=incident,
                extra={"previous_priority": previous})


async def add_note(
    *, session: AsyncSession, incident: Incident, author: User, content: str
) -> Note:
    now = utcnow()
    note = Note(incident_id=incident.id, user=author, content=content, created_at=now)
    session.add(note)
    timeline.record(session=session, incident=incident, type_="annotate_log_entry",
                    agent=Agent.user(author), summary=content, at=now,
                    channel={"type": "note", "summary": content})
    outbox.emit(session=session, kind="incident.note_added", incident=incident,
                extra={"note": {"content": content, "user_id": author.id}})
    await session.flush()
    return note


async def list_notes(*, session: AsyncSession, incident: Incident) -> list[Note]:
    return list(await session.scalars(
        select(Note).where(Note.incident_id == incident.id)
        .order_by(Note.created_at, Note.id)))
