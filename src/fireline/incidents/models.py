"""Incidents platform tables (services, incidents, notes, log entries, outbox).

Invariants the schema itself enforces (not pre-checks in code):
- an open incident's `incident_key` is unique per service (WF-2): a partial unique index
  over (service_id, incident_key) for rows whose status is not `resolved`;
- `incident_number` is unique; numbers come from the single `incident_counters` row, whose
  increment serializes concurrent creators on both databases;
- an integration's routing key is unique.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fireline.accounts.models import Team, User
from fireline.core.clock import utcnow
from fireline.core.db import Base, UTCDateTime
from fireline.core.ids import new_id
from fireline.oauth.models import OAuthApp

# BIGINT on PostgreSQL, INTEGER (the rowid alias, so autoincrementing) on SQLite.
_BigId = BigInteger().with_variant(Integer(), "sqlite")
# The predicate of the open-incident index; `ON CONFLICT` targets must repeat it verbatim.
OPEN = text("status != 'resolved'")


class Service(Base):
    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(20), default="active")
    team_id: Mapped[str | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    team: Mapped[Team | None] = relationship(lazy="joined")
    # Joined everywhere: a service and its incidents then load in one query, not two or three.
    on_call: Mapped[list[ServiceOnCall]] = relationship(
        lazy="joined", cascade="all, delete-orphan", order_by="ServiceOnCall.position"
    )


class ServiceOnCall(Base):
    """The users new incidents on a service are assigned to when none are named."""

    __tablename__ = "service_on_call"

    service_id: Mapped[str] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship(lazy="joined")


class ServiceIntegration(Base):
    __tablename__ = "service_integrations"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    # PagerDuty shows the integration key to anyone who can see the service: it routes
    # events, it does not grant API access, so it is stored as is.
    # None for an app added to the service (its vendor): the app acts through OAuth, so no
    # key is generated (as PagerDuty does for VectorShift).
    routing_key: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    vendor_app_id: Mapped[str | None] = mapped_column(
        ForeignKey("oauth_apps.id", ondelete="CASCADE"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    service: Mapped[Service] = relationship(lazy="joined")
    vendor_app: Mapped[OAuthApp | None] = relationship(lazy="joined")


class Priority(Base):
    __tablename__ = "priorities"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    color: Mapped[str] = mapped_column(String(16), default="a8171c")
    order: Mapped[int] = mapped_column(Integer, default=0)


class IncidentCounter(Base):
    """One row per sequence; `UPDATE ... SET value = value + 1 RETURNING value` hands out
    numbers, and its row lock (PostgreSQL) or the write lock (SQLite) makes them unique and
    monotonic under concurrency."""

    __tablename__ = "incident_counters"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(_BigId, default=0)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index(
            "uq_incidents_open_incident_key", "service_id", "incident_key", unique=True,
            sqlite_where=OPEN, postgresql_where=OPEN,
        ),
    )

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    incident_number: Mapped[int] = mapped_column(_BigId, unique=True)
    title: Mapped[str] = mapped_column(String(1024))
    details: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(20), default="triggered")
    urgency: Mapped[str] = mapped_column(String(10), default="high")
    incident_key: Mapped[str] = mapped_column(String(255))
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    priority_id: Mapped[str | None] = mapped_column(
        ForeignKey("priorities.id", ondelete="SET NULL"), default=None
    )
    # `{"type": "user_reference"|"service_reference", "id": ...}` of whoever last changed the
    # status; services act through the Events API.
    last_status_change_by: Mapped[dict[str, Any]] = mapped_column(JSON)
    acknowledgements: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    first_trigger_log_entry_id: Mapped[str | None] = mapped_column(String(20), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_status_change_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # PagerDuty's `conference_bridge`: a dial-in and a link, each optional (`status_updates`
    # sets them; the URL is http(s) only).
    conference_number: Mapped[str | None] = mapped_column(String(64), default=None)
    conference_url: Mapped[str | None] = mapped_column(String(2048), default=None)

    service: Mapped[Service] = relationship(lazy="joined")
    priority: Mapped[Priority | None] = relationship(lazy="joined")
    assignments: Mapped[list[IncidentAssignment]] = relationship(
        lazy="joined", cascade="all, delete-orphan",
        order_by=lambda: (IncidentAssignment.at, IncidentAssignment.user_id),
    )


class IncidentAssignment(Base):
    __tablename__ = "incident_assignments"

    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class Alert(Base):
    """One per Events API trigger; a deduplicated trigger adds an alert, not an incident."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    dedup_key: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(String(1024))
    severity: Mapped[str] = mapped_column(String(10))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Note(Base):
    __tablename__ = "incident_notes"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship(lazy="joined")


class LogEntry(Base):
    __tablename__ = "log_entries"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    service_id: Mapped[str] = mapped_column(String(20))
    # `user_reference` or `service_reference`, with its id and a summary frozen at write time.
    agent: Mapped[dict[str, Any]] = mapped_column(JSON)
    channel: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(String(1024))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class OutboxEvent(Base):
    """WF-1: written in the transaction that makes the change; consumers claim by id order."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[str] = mapped_column(String(20), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
