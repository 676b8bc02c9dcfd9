"""Who may do what on the incidents platform — the one place these rules live.

- services: owner, admin and global managers create them; everyone signed in reads them;
- incidents and notes: responders and above create and update; observers and read-only keys
  read; restricted users read only the incidents they are assigned to, and a hidden
  incident answers 404 like a missing one;
- the `From` header (PagerDuty: required on incident writes made with an API key) names the
  user a change is attributed to. Only an admin's key may attribute a change to someone
  else; any other key's changes are attributed to its own user.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.models import User
from fireline.accounts.permissions import Principal
from fireline.accounts.roles import BaseRole
from fireline.core.db import first_unique
from fireline.core.errors import AccessDeniedError, InvalidInputError, NotFoundError
from fireline.incidents.models import Incident, IncidentAssignment

S = TypeVar("S", bound=Select[Any])
_WRITERS = {BaseRole.OWNER, BaseRole.ADMIN, BaseRole.MANAGER, BaseRole.RESPONDER}
FROM_MISSING = (
    'You must specify a user\'s email address in the "From" header to perform this action'
)


def require_service_admin(principal: Principal) -> None:
    if principal.read_only or not principal.is_global_manager_or_above:
        raise AccessDeniedError("Only admins and managers may manage services")


def require_incident_writer(principal: Principal) -> None:
    if principal.read_only or principal.role not in _WRITERS:
        raise AccessDeniedError("Your role may not change incidents")


def sees_only_assigned(principal: Principal) -> bool:
    return principal.role is BaseRole.RESTRICTED


def assigned_to(user_id: Any) -> ColumnElement[bool]:
    """The incident has `user_id` (a value or a bound parameter) among its assignees."""
    return exists().where(IncidentAssignment.incident_id == Incident.id,
                          IncidentAssignment.user_id == user_id)


def restrict_visible(principal: Principal, statement: S) -> S:
    """Adds the visibility rule to a query over incidents."""
    if not sees_only_assigned(principal):
        return statement
    return statement.where(assigned_to(principal.user.id))


async def visible_incident(
    *, session: AsyncSession, principal: Principal, incident_id: str, for_update: bool = False,
) -> Incident:
    """The incident, or NotFoundError. `for_update` (writers) locks its row until the
    transaction ends (PostgreSQL; SQLite has one writer): changes to one incident are then
    made one after another, none is lost, and its outbox events are in the order of its
    states (the "when conditions are met" trigger relies on that)."""
    statement = restrict_visible(principal, select(Incident).where(Incident.id == incident_id))
    if for_update:
        # `OF incidents`: the eager outer joins (service, priority) may not be locked.
        statement = statement.with_for_update(of=Incident)
    incident = await first_unique(session, statement)
    if incident is None:
        raise NotFoundError("Incident Not Found")
    return incident


async def lock_incidents(*, session: AsyncSession, ids: list[str]) -> None:
    """Locks several incidents' rows for writing, in one order: two bulk updates of the same
    incidents cannot deadlock."""
    await session.execute(select(Incident.id).where(Incident.id.in_(set(ids)))
                          .order_by(Incident.id).with_for_update())


async def acting_user(
    *, session: AsyncSession, principal: Principal, from_header: str | None
) -> User:
    """The user a write is attributed to (PagerDuty's `From` header rule for API keys)."""
    if principal.via != "api_key":
        return principal.user
    email = (from_header or "").strip().lower()
    if not email:
        raise InvalidInputError(errors=[FROM_MISSING])
    if email == principal.user.email:
        return principal.user
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        raise InvalidInputError(errors=["Requester User Not Found"])
    return user if principal.is_admin else principal.user
