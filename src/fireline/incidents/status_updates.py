"""Status updates, stakeholders and the conference bridge: how an incident keeps the people
around it informed (PagerDuty's status updates, notification subscribers and
`conference_bridge`).

- A status update is stored with its sender and written to the timeline as a
  `status_update_log_entry` (PagerDuty's schema names no log entry type for it). Its
  `html_message` is sanitised with nh3 (the Ammonia sanitizer) before it is stored: tags and
  attributes outside Ammonia's allow-list, scripts, event handlers and links that are not
  http(s) or mailto are dropped, so what is stored and echoed back is safe to show. Pages
  sanitise it again when they render it.
- Stakeholders are users or teams subscribed to an incident's status updates. Sending one
  notifies each stakeholder user once — a team by its members at send time — as one delivery
  row per user, unread until that user opens the incident. Disabled users are not notified.
- The conference bridge is a dial-in number and a web link (http or https only: the page
  shows it as a link) on the incident; setting it writes a log entry.

Everything happens in the caller's transaction: a workflow step's status update and its
deliveries commit with the step's completion, exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import nh3
from pydantic import Field, model_validator
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fireline.accounts.models import Team, TeamMembership, User
from fireline.accounts.permissions import Principal
from fireline.core.clock import utcnow
from fireline.core.db import Base, UTCDateTime, insert_for
from fireline.core.errors import InvalidInputError
from fireline.core.ids import new_id
from fireline.core.pagination import Page, PageParams, paginate
from fireline.incidents import access, timeline
from fireline.incidents.models import Incident
from fireline.incidents.schemas import Closed, ConferenceBridge
from fireline.incidents.timeline import Agent

SubscriberType = Literal["user", "team"]
# Links in an HTML status update: web pages and mail only (no `javascript:`, `data:`, ...).
_LINK_SCHEMES = {"http", "https", "mailto"}
UNREAD_SHOWN = 20


class StatusUpdate(Base):
    __tablename__ = "status_updates"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    sender_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None)
    message: Mapped[str] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(1024), default=None)
    html_message: Mapped[str | None] = mapped_column(Text, default=None)  # sanitised
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sender: Mapped[User | None] = relationship(lazy="joined")


class Subscriber(Base):
    """A user or a team subscribed to an incident's status updates (exactly one is set)."""

    __tablename__ = "incident_subscribers"
    __table_args__ = (
        # NULLs are distinct in a unique index on both databases: a team row never collides
        # with a user row, and each user or team is subscribed once.
        Index("uq_incident_subscribers_user", "incident_id", "user_id", unique=True),
        Index("uq_incident_subscribers_team", "incident_id", "team_id", unique=True),
        CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)", name="one_subscriber"),
    )

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None)
    team_id: Mapped[str | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship(lazy="joined")
    team: Mapped[Team | None] = relationship(lazy="joined")

    @property
    def subscriber_type(self) -> SubscriberType:
        return "user" if self.user_id else "team"

    @property
    def subscriber_id(self) -> str:
        found = self.user_id or self.team_id
        assert found is not None  # the check constraint
        return found

    @property
    def name(self) -> str:
        named = self.user or self.team
        return named.name if named else self.subscriber_id


class Delivery(Base):
    """A status update as it reached one user: unread until they open the incident."""

    __tablename__ = "status_update_deliveries"
    __table_args__ = (
        Index("ix_status_update_deliveries_user_id_read_at", "user_id", "read_at"),
    )

    status_update_id: Mapped[str] = mapped_column(
        ForeignKey("status_updates.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # Its status update's incident, kept here: opening an incident marks its deliveries read.
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


# Request bodies (PagerDuty's shapes) ---------------------------------------------------------

class StatusUpdateCreate(Closed):
    """`POST /incidents/{id}/status_updates`: PagerDuty's body is not wrapped."""

    message: str = Field(min_length=1, max_length=65_536)
    subject: str | None = Field(default=None, min_length=1, max_length=1024)
    html_message: str | None = Field(default=None, min_length=1, max_length=65_536)

    @model_validator(mode="after")
    def _html_has_a_subject(self) -> StatusUpdateCreate:
        # PagerDuty: subject and html_message are "required if sending custom html email".
        if self.html_message is not None and self.subject is None:
            raise ValueError("subject is required with html_message")
        return self


class NotificationSubscriber(Closed):
    subscriber_id: str = Field(min_length=1, max_length=20)
    subscriber_type: SubscriberType


class SubscribersChange(Closed):
    """The body of `POST .../status_updates/subscribers` and `.../unsubscribe`."""

    subscribers: list[NotificationSubscriber] = Field(min_length=1, max_length=100)


# Status updates ------------------------------------------------------------------------------

def sanitise_html(html: str) -> str:
    return nh3.clean(html, url_schemes=_LINK_SCHEMES)


@dataclass(frozen=True)
class Sent:
    status_update: StatusUpdate
    notified: int  # users given a delivery


async def send_status_update(
    *, session: AsyncSession, incident: Incident, agent: Agent, sender: User, message: str,
    subject: str | None = None, html_message: str | None = None,
) -> Sent:
    now = utcnow()
    status_update = StatusUpdate(
        id=new_id(), incident_id=incident.id, sender=sender, message=message, subject=subject,
        html_message=sanitise_html(html_message) if html_message is not None else None,
        created_at=now)
    session.add(status_update)
    await session.flush()  # before the deliveries that reference it
    users = await _stakeholder_user_ids(session, incident.id)
    if users:
        await session.execute(insert(Delivery), [
            {"status_update_id": status_update.id, "user_id": user_id,
             "incident_id": incident.id, "created_at": now, "read_at": None}
            for user_id in users])
    timeline.record(
        session=session, incident=incident, type_="status_update_log_entry", agent=agent,
        summary=message, at=now,
        details={"status_update_id": status_update.id, "notified_count": len(users)})
    await session.flush()
    return Sent(status_update, len(users))


async def _stakeholder_user_ids(session: AsyncSession, incident_id: str) -> list[str]:
    """Each enabled user subscribed directly or through a team, once."""
    direct = select(Subscriber.user_id).where(Subscriber.incident_id == incident_id,
                                              Subscriber.user_id.is_not(None))
    through_teams = (select(TeamMembership.user_id)
                     .join(Subscriber, Subscriber.team_id == TeamMembership.team_id)
                     .where(Subscriber.incident_id == incident_id))
    return list(await session.scalars(
        select(User.id).where(or_(User.id.in_(direct), User.id.in_(through_teams)),
                              User.disabled_at.is_(None)).order_by(User.id)))


async def list_status_updates(
    *, session: AsyncSession, incident: Incident, params: PageParams
) -> Page[StatusUpdate]:
    """Newest first."""
    return await paginate(session, select(StatusUpdate).where(
        StatusUpdate.incident_id == incident.id).order_by(
        StatusUpdate.created_at.desc(), StatusUpdate.id.desc()), params)


# Stakeholders --------------------------------------------------------------------------------

async def _require_known(session: AsyncSession, wanted: list[NotificationSubscriber]) -> None:
    missing = []
    for kind, model, label in (("user", User, "User"), ("team", Team, "Team")):
        ids = [item.subscriber_id for item in wanted if item.subscriber_type == kind]
        found = set(await session.scalars(select(model.id).where(model.id.in_(ids)))) \
            if ids else set()
        missing += [f"{label} {id_} not found" for id_ in ids if id_ not in found]
    if missing:
        raise InvalidInputError(errors=missing)


def _unique(subscribers: list[NotificationSubscriber]) -> list[NotificationSubscriber]:
    return list({(item.subscriber_type, item.subscriber_id): item
                 for item in subscribers}.values())


def _matches(incident: Incident, item: NotificationSubscriber) -> Any:
    column = Subscriber.user_id if item.subscriber_type == "user" else Subscriber.team_id
    return (Subscriber.incident_id == incident.id) & (column == item.subscriber_id)


async def add_subscribers(
    *, session: AsyncSession, incident: Incident, subscribers: list[NotificationSubscriber]
) -> list[tuple[NotificationSubscriber, Literal["success", "duplicate"]]]:
    """Subscribes each (once); an unknown user or team refuses them all, naming it. Each is
    `success`, or `duplicate` when it was subscribed already."""
    wanted = _unique(subscribers)
    await _require_known(session, wanted)
    results: list[tuple[NotificationSubscriber, Literal["success", "duplicate"]]] = []
    now = utcnow()
    for item in wanted:
        kind = "user_id" if item.subscriber_type == "user" else "team_id"
        # The unique index decides, also against a concurrent request: no pre-check.
        inserted = await session.scalar(
            insert_for(session)(Subscriber).values(
                id=new_id(), incident_id=incident.id, created_at=now,
                **{kind: item.subscriber_id})
            .on_conflict_do_nothing().returning(Subscriber.id))
        results.append((item, "success" if inserted else "duplicate"))
    return results


@dataclass(frozen=True)
class Removed:
    deleted: int
    non_existent: int


async def remove_subscribers(
    *, session: AsyncSession, incident: Incident, subscribers: list[NotificationSubscriber]
) -> Removed:
    deleted = 0
    wanted = _unique(subscribers)
    for item in wanted:
        result: Any = await session.execute(delete(Subscriber).where(_matches(incident, item)))
        deleted += int(result.rowcount or 0)
    return Removed(deleted=deleted, non_existent=len(wanted) - deleted)


async def list_subscribers(
    *, session: AsyncSession, incident: Incident, params: PageParams
) -> Page[Subscriber]:
    return await paginate(session, select(Subscriber).where(
        Subscriber.incident_id == incident.id).order_by(Subscriber.created_at, Subscriber.id),
        params)


# What a user has not read --------------------------------------------------------------------

@dataclass(frozen=True)
class Unread:
    status_update: StatusUpdate
    incident_id: str
    incident_number: int
    incident_title: str


async def unread(
    *, session: AsyncSession, principal: Principal, limit: int = UNREAD_SHOWN
) -> tuple[list[Unread], int]:
    """The newest status updates delivered to the principal's user and not read yet, on
    incidents they may see, and how many there are in all."""
    statement = (
        select(StatusUpdate, Incident.id, Incident.incident_number, Incident.title)
        .join(Delivery, Delivery.status_update_id == StatusUpdate.id)
        .join(Incident, Incident.id == Delivery.incident_id)
        .where(Delivery.user_id == principal.user.id, Delivery.read_at.is_(None)))
    if access.sees_only_assigned(principal):
        statement = statement.where(access.assigned_to(principal.user.id))
    rows = await session.execute(statement.order_by(
        StatusUpdate.created_at.desc(), StatusUpdate.id.desc()).limit(limit))
    found = [Unread(*row) for row in rows]
    total = len(found) if len(found) < limit else int(await session.scalar(
        select(func.count()).select_from(statement.subquery())) or 0)
    return found, total


async def has_unread(*, session: AsyncSession, user: User, incident_id: str) -> bool:
    return await session.scalar(select(Delivery.status_update_id).where(
        Delivery.user_id == user.id, Delivery.incident_id == incident_id,
        Delivery.read_at.is_(None)).limit(1)) is not None


async def mark_read(*, session: AsyncSession, user: User, incident_id: str) -> None:
    await session.execute(update(Delivery).where(
        Delivery.user_id == user.id, Delivery.incident_id == incident_id,
        Delivery.read_at.is_(None)).values(read_at=utcnow()))


# The conference bridge -----------------------------------------------------------------------

def set_conference_bridge(
    *, session: AsyncSession, incident: Incident, agent: Agent,
    bridge: ConferenceBridge | None,
) -> bool:
    """Replaces the bridge (None, or neither part set, removes it); False when nothing
    changed."""
    number, url = (bridge.conference_number, bridge.conference_url) if bridge else (None, None)
    if (number, url) == (incident.conference_number, incident.conference_url):
        return False
    now = utcnow()
    incident.conference_number, incident.conference_url = number, url
    incident.updated_at = now
    parts = " ".join(part for part in (number, url) if part)
    timeline.record(
        session=session, incident=incident, type_="conference_bridge_change_log_entry",
        agent=agent, at=now,
        summary=f"Conference bridge set to {parts}." if parts else "Conference bridge removed.",
        details={"conference_bridge": {"conference_number": number, "conference_url": url}
                 if parts else None})
    return True
