"""The outbox (WF-1): events that start workflows, written in the same transaction as the
change that causes them, so a crash after commit cannot lose one.

Consumers (the workflow engine) call `claim` inside their own transaction: it returns the
oldest unprocessed events in id order and marks them processed; if the consumer's
transaction rolls back, the events are unclaimed again. On PostgreSQL concurrent claimers
skip each other's rows (`FOR UPDATE SKIP LOCKED`); SQLite's single writer serializes them.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy import insert as insert_statement
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.core.clock import isoformat, utcnow
from fireline.core.db import dialect_name
from fireline.incidents.models import Incident, OutboxEvent

KINDS = (
    "incident.triggered", "incident.acknowledged", "incident.resolved",
    "incident.priority_changed", "incident.note_added", "incident.reassigned",
    "incident.urgency_changed", "incident.responders_added", "incident.title_changed",
)


def snapshot(incident: Incident) -> dict[str, Any]:
    """What a workflow condition or template sees of the incident at the time of the event."""
    return {
        "id": incident.id,
        "incident_number": incident.incident_number,
        "title": incident.title,
        "status": incident.status,
        "urgency": incident.urgency,
        "priority": incident.priority.name if incident.priority else None,
        "service_id": incident.service_id,
        "incident_key": incident.incident_key,
        "incident_type": "incident_default",  # PagerDuty's base type: the only one yet
        "created_at": isoformat(incident.created_at),
    }


def emit(
    *, session: AsyncSession, kind: str, incident: Incident, extra: dict[str, Any] | None = None
) -> OutboxEvent:
    assert kind in KINDS, kind
    event = OutboxEvent(kind=kind, incident_id=incident.id,
                        payload=_payload(incident, extra), created_at=utcnow())
    session.add(event)
    return event


async def insert(
    *, session: AsyncSession, kind: str, incident: Incident, extra: dict[str, Any] | None = None
) -> None:
    """`emit` as one INSERT statement, for the hot path that opens incidents. The session is
    marked (`INSERTED`) so that its commit wakes the workflow engines, as a flushed
    `OutboxEvent` does."""
    assert kind in KINDS, kind
    connection = await session.connection()
    await connection.execute(_INSERT, {
        "kind": kind, "incident_id": incident.id, "payload": _payload(incident, extra),
        "created_at": utcnow()})
    session.info[INSERTED] = True


def _payload(incident: Incident, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {"incident": snapshot(incident), **(extra or {})}


INSERTED = "fireline_outbox_inserted"
_INSERT = insert_statement(cast(Table, OutboxEvent.__table__))


async def claim(*, session: AsyncSession, limit: int = 100) -> list[OutboxEvent]:
    statement = (
        select(OutboxEvent).where(OutboxEvent.processed_at.is_(None))
        .order_by(OutboxEvent.id).limit(limit)
    )
    if dialect_name(session) == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    events = list(await session.scalars(statement))
    now = utcnow()
    for event in events:
        event.processed_at = now
    await session.flush()
    return events
