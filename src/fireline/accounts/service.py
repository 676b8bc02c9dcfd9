"""Accounts: users, teams, memberships, API keys and browser sessions.

Every function validates its input before writing and raises `InvalidInputError` or
`ConflictError` with a message naming the problem (`InvalidFieldError` and
`FieldConflictError` also name the form field at fault); nothing is written on failure.

The `create_*` functions serve trusted callers — the CLI and the first start. The functions
that take an `actor` (`invite_user`, `add_team`, `add_api_key`, `change_*`, ...) act for a
signed-in person: they check that person may make the change — a refusal is audited in its
own commit (AUD-2) and raises `AccessDeniedError` — and audit every change in the same
transaction as the change (AUD-1), never with a secret in it.

A disabled user keeps their row and history but cannot sign in, and none of their browser
sessions, API keys or OAuth tokens is honoured; disabling also ends the sessions and revokes
the keys and OAuth authorizations, so enabling the user again brings none of them back.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn, Protocol, TypeVar

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.models import (
    DEFAULT_API_KEY_NAME,
    ApiKey,
    LoginSession,
    Team,
    TeamMembership,
    User,
)
from fireline.accounts.passwords import MIN_LENGTH, hash_password, verify_password
from fireline.accounts.roles import BaseRole, TeamRole
from fireline.accounts.tokens import digest, new_secret
from fireline.core import audit
from fireline.core.clock import utcnow
from fireline.core.db import Database
from fireline.core.errors import (
    AccessDeniedError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from fireline.core.logging import get_logger
from fireline.oauth import service as oauth
from fireline.oauth.server import LAST_USED_RESOLUTION

SESSION_LIFETIME = timedelta(hours=12)
API_KEY_NAME_MAX = 100
_NAME_MAX = 200
_E = TypeVar("_E", BaseRole, TeamRole)
_ADMINS = frozenset({BaseRole.OWNER, BaseRole.ADMIN})
_GLOBAL_MANAGERS = frozenset({BaseRole.OWNER, BaseRole.ADMIN, BaseRole.MANAGER})
# The roles a user can be given: there is one Account Owner, made at the first start.
ASSIGNABLE_ROLES = tuple(role for role in BaseRole if role != BaseRole.OWNER)
log = get_logger("fireline.accounts")


class Actor(Protocol):
    @property
    def user(self) -> User: ...


class InvalidFieldError(InvalidInputError):
    """Bad input in one named field: a page shows the message next to that field."""

    def __init__(self, field: str, message: str, *, errors: Sequence[str] = ()) -> None:
        super().__init__(message, errors=errors or [message])
        self.field = field


class FieldConflictError(ConflictError):
    """A field's value is already taken (an email, a team name)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, errors=[message])
        self.field = field


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$")


def _parse_enum(kind: type[_E], value: str, label: str, field: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidFieldError(
            field, f"Unknown {label} {value!r}", errors=[f"{label} must be one of: {allowed}"]
        ) from None


def parse_base_role(value: str) -> BaseRole:
    return _parse_enum(BaseRole, value, "role", "role")


def parse_team_role(value: str) -> TeamRole:
    return _parse_enum(TeamRole, value, "team role", "role")


def _clean_name(value: str, *, label: str = "Name", field: str = "name",
                limit: int = _NAME_MAX) -> str:
    value = value.strip()
    if not value:
        raise InvalidFieldError(field, f"{label} must not be empty")
    if len(value) > limit:
        raise InvalidFieldError(field, f"{label} must be at most {limit} characters")
    return value


def _check_password(password: str, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidFieldError(field, f"Password must be at least {MIN_LENGTH} characters")


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA time zone names this system knows (the tz database, through zoneinfo)."""
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(value: str) -> str:
    # Membership in the known set, not ZoneInfo(value): that would also read paths from input.
    if value not in time_zones():
        raise InvalidFieldError("time_zone", f"Unknown time zone {value!r}: choose an IANA "
                                "name such as Europe/Berlin or America/New_York")
    return value


def _new_password() -> str:
    return new_secret()[:20]


def _is_admin(actor: Actor) -> bool:
    return actor.user.role in _ADMINS


async def _refuse(session: AsyncSession, actor: Actor, *, action: str, target_type: str,
                  target_id: str | None, message: str, request_id: str | None) -> NoReturn:
    """AUD-2: a refused change is recorded — committed on its own, since the refusal rolls
    back whatever else the request did — and then refused."""
    audit.record(session, actor_id=actor.user.id, actor=actor.user.email, action=action,
                 target_type=target_type, target_id=target_id, outcome="denied",
                 request_id=request_id)
    await session.commit()
    raise AccessDeniedError(message)


async def _require_admin(session: AsyncSession, actor: Actor, *, action: str, target_type: str,
                         target_id: str | None, message: str, request_id: str | None) -> None:
    if not _is_admin(actor):
        await _refuse(session, actor, action=action, target_type=target_type,
                      target_id=target_id, message=message, request_id=request_id)


def _audit(session: AsyncSession, actor: Actor, action: str, target_type: str,
           target_id: str | None, request_id: str | None,
           details: dict[str, object] | None = None) -> None:
    audit.record(session, actor_id=actor.user.id, actor=actor.user.email, action=action,
                 target_type=target_type, target_id=target_id, request_id=request_id,
                 details=details)


async def create_user(
    *,
    session: AsyncSession,
    email: str,
    name: str,
    role: str,
    password: str | None = None,
    time_zone: str = "Etc/UTC",
) -> User:
    name = _clean_name(name)
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise InvalidFieldError("email", f"Invalid email address {email!r}")
    base_role = parse_base_role(role)
    if password is not None:
        _check_password(password)
    check_time_zone(time_zone)
    taken = FieldConflictError("email", f"A user with email {email!r} already exists")
    if await session.scalar(select(User.id).where(User.email == email)):
        raise taken
    user = User(
        email=email,
        name=name,
        role=base_role.value,
        time_zone=time_zone,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent insert won the race for the email
        raise taken from exc
    return user


async def invite_user(*, session: AsyncSession, actor: Actor, email: str, name: str,
                      role: str, request_id: str | None = None) -> tuple[User, str]:
    """Admins and the owner add a user with any role but owner. Returns the user and their
    generated initial password, which only this answer ever holds (the row keeps its hash)."""
    await _require_admin(session, actor, action="user.created", target_type="user",
                         target_id=None, message="Only admins and the Account Owner add users",
                         request_id=request_id)
    if parse_base_role(role) == BaseRole.OWNER:
        raise InvalidFieldError("role", "There is only one Account Owner: choose another role")
    password = _new_password()
    user = await create_user(session=session, email=email, name=name, role=role,
                             password=password)
    _audit(session, actor, "user.created", "user", user.id, request_id,
           {"role": user.role, "email": user.email})
    return user, password


async def get_user(*, session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError("No such user")
    return user


async def list_users(*, session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.name, User.email)))


async def change_user_role(*, session: AsyncSession, actor: Actor, user_id: str, role: str,
                           request_id: str | None = None) -> User:
    """Admins and the owner change anyone's role but their own and the owner's; nobody is
    made owner this way."""
    await _require_admin(session, actor, action="user.role_changed", target_type="user",
                         target_id=user_id, request_id=request_id,
                         message="Only admins and the Account Owner change roles")
    user = await get_user(session=session, user_id=user_id)
    new_role = parse_base_role(role)
    if user.id == actor.user.id:
        raise InvalidFieldError("role", "You cannot change your own role")
    if user.role == BaseRole.OWNER:
        raise InvalidFieldError("role", "The Account Owner's role cannot be changed")
    if new_role == BaseRole.OWNER:
        raise InvalidFieldError("role", "There is only one Account Owner: choose another role")
    if new_role == user.role:
        return user
    previous, user.role = user.role, new_role.value
    _audit(session, actor, "user.role_changed", "user", user.id, request_id,
           {"from": previous, "to": user.role})
    await session.flush()
    return user


async def set_user_disabled(*, session: AsyncSession, actor: Actor, user_id: str,
                            disabled: bool, request_id: str | None = None) -> User:
    """Admins and the owner disable anyone but themselves and the owner. Disabling ends the
    user's browser sessions and revokes their API keys and OAuth authorizations at once
    (OA-10); enabling again lets them sign in, with new keys to be made."""
    action = "user.disabled" if disabled else "user.enabled"
    await _require_admin(session, actor, action=action, target_type="user", target_id=user_id,
                         request_id=request_id,
                         message="Only admins and the Account Owner disable users")
    user = await get_user(session=session, user_id=user_id)
    if user.id == actor.user.id:
        raise InvalidInputError("You cannot disable your own user")
    if user.role == BaseRole.OWNER:
        raise InvalidInputError("The Account Owner cannot be disabled")
    if disabled == user.disabled:
        return user
    details: dict[str, object] = {}
    if disabled:
        now = utcnow()
        user.disabled_at = now
        ended = await session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        keys = await session.execute(
            update(ApiKey).where(ApiKey.user_id == user.id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=now))
        grants = await oauth.revoke_grants_of(session=session, user=user, reason="user_disabled")
        details = {"sessions_ended": ended.rowcount,  # type: ignore[attr-defined]
                   "api_keys_revoked": keys.rowcount,  # type: ignore[attr-defined]
                   "oauth_grants_revoked": grants}
    else:
        user.disabled_at = None
    _audit(session, actor, action, "user", user.id, request_id, details)
    await session.flush()
    return user


async def update_profile(*, session: AsyncSession, actor: Actor, name: str, time_zone: str,
                         request_id: str | None = None) -> User:
    """Your own name and time zone."""
    name = _clean_name(name)
    check_time_zone(time_zone)
    user = await get_user(session=session, user_id=actor.user.id)
    changed = [field for field, value in (("name", name), ("time_zone", time_zone))
               if getattr(user, field) != value]
    if not changed:
        return user
    user.name, user.time_zone = name, time_zone
    _audit(session, actor, "user.profile_updated", "user", user.id, request_id,
           {"fields": changed})
    await session.flush()
    return user


async def change_password(*, session: AsyncSession, actor: Actor, current_password: str,
                          new_password: str, confirmation: str, keep_session_id: str | None,
                          request_id: str | None = None) -> None:
    """Your own password, proven by the current one. Every other browser session of yours
    ends (whoever may have learnt the old password is signed out); `keep_session_id`, the
    session making the change, stays."""
    user = await get_user(session=session, user_id=actor.user.id)
    if not verify_password(user.password_hash, current_password):
        raise InvalidFieldError("current_password", "The current password is incorrect")
    _check_password(new_password, "new_password")
    if new_password != confirmation:
        raise InvalidFieldError("confirm_password", "The two new passwords do not match")
    user.password_hash = hash_password(new_password)
    others = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep_session_id is not None:
        others = others.where(LoginSession.id != keep_session_id)
    ended = await session.execute(others)
    _audit(session, actor, "user.password_changed", "user", user.id, request_id,
           {"other_sessions_ended": ended.rowcount})  # type: ignore[attr-defined]
    await session.flush()


async def get_user_by_email(*, session: AsyncSession, email: str) -> User:
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFoundError(f"No user with email {email!r}")
    return user


async def reset_password(*, session: AsyncSession, email: str, password: str | None = None
                         ) -> str:
    """Sets a new password (a random one unless given) and ends the user's browser sessions;
    returns the password."""
    user = await get_user_by_email(session=session, email=email)
    password = password if password is not None else _new_password()
    _check_password(password)
    user.password_hash = hash_password(password)
    await session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    audit.record(session, actor_id=None, actor="cli", action="user.password_reset",
                 target_type="user", target_id=user.id)
    await session.flush()
    return password


async def account_owner(*, session: AsyncSession) -> User:
    owner = await session.scalar(
        select(User).where(User.role == BaseRole.OWNER).order_by(User.created_at))
    if owner is None:
        raise NotFoundError("No account owner yet: start `fireline serve` once")
    return owner


async def create_team(*, session: AsyncSession, name: str, description: str | None = None) -> Team:
    name = _clean_name(name, label="Team name")
    description = (description or "").strip() or None
    taken = FieldConflictError("name", f"A team named {name!r} already exists")
    if await session.scalar(select(Team.id).where(Team.name == name)):
        raise taken
    team = Team(name=name, description=description)
    session.add(team)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent insert won the race for the name
        raise taken from exc
    return team


def may_add_teams(actor: Actor) -> bool:
    return actor.user.role in _GLOBAL_MANAGERS


async def may_manage_team(*, session: AsyncSession, actor: Actor, team_id: str) -> bool:
    """Admins, the owner and global managers manage every team's members; a team's own
    managers manage theirs."""
    if actor.user.role in _GLOBAL_MANAGERS:
        return True
    membership = await session.get(TeamMembership, (team_id, actor.user.id))
    return membership is not None and membership.role == TeamRole.MANAGER


async def add_team(*, session: AsyncSession, actor: Actor, name: str,
                   description: str | None = None, request_id: str | None = None) -> Team:
    if not may_add_teams(actor):
        await _refuse(session, actor, action="team.created", target_type="team", target_id=None,
                      message="Only admins, global managers and the Account Owner add teams",
                      request_id=request_id)
    team = await create_team(session=session, name=name, description=description)
    _audit(session, actor, "team.created", "team", team.id, request_id, {"name": team.name})
    return team


async def get_team(*, session: AsyncSession, team_id: str) -> Team:
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFoundError("No such team")
    return team


async def list_teams(*, session: AsyncSession) -> list[tuple[Team, int]]:
    """Every team with its number of members."""
    members = (select(TeamMembership.team_id, func.count().label("members"))
               .group_by(TeamMembership.team_id).subquery())
    rows = await session.execute(
        select(Team, func.coalesce(members.c.members, 0))
        .outerjoin(members, members.c.team_id == Team.id).order_by(Team.name))
    return [(team, int(count)) for team, count in rows]


@dataclass(frozen=True)
class Membership:
    team: Team
    user: User
    role: TeamRole


async def memberships(*, session: AsyncSession, team_id: str | None = None,
                      user_id: str | None = None) -> list[Membership]:
    """Memberships of one team, of one user, or (neither given) all of them; by team name,
    then user name."""
    statement = (select(Team, User, TeamMembership.role)
                 .join(TeamMembership, TeamMembership.team_id == Team.id)
                 .join(User, User.id == TeamMembership.user_id)
                 .order_by(Team.name, User.name, User.email))
    if team_id is not None:
        statement = statement.where(TeamMembership.team_id == team_id)
    if user_id is not None:
        statement = statement.where(TeamMembership.user_id == user_id)
    return [Membership(team, user, TeamRole(role))
            for team, user, role in await session.execute(statement)]


async def _managed_team(session: AsyncSession, actor: Actor, team_id: str, action: str,
                        request_id: str | None) -> Team:
    team = await get_team(session=session, team_id=team_id)
    if not await may_manage_team(session=session, actor=actor, team_id=team.id):
        await _refuse(session, actor, action=action, target_type="team", target_id=team.id,
                      request_id=request_id,
                      message="Only this team's managers, global managers and admins "
                              "change its members")
    return team


async def _membership(session: AsyncSession, team: Team, user_id: str) -> TeamMembership:
    membership = await session.get(TeamMembership, (team.id, user_id))
    if membership is None:
        raise NotFoundError(f"That user is not a member of {team.name}")
    return membership


async def add_membership(*, session: AsyncSession, actor: Actor, team_id: str, user_id: str,
                         role: str, request_id: str | None = None) -> TeamMembership:
    team = await _managed_team(session, actor, team_id, "team.member_added", request_id)
    team_role = parse_team_role(role)
    user = await session.get(User, user_id)
    if user is None:
        raise InvalidFieldError("user_id", "Choose a user to add")
    if await session.get(TeamMembership, (team.id, user.id)) is not None:
        raise FieldConflictError("user_id", f"{user.name} is already a member of {team.name}")
    membership = TeamMembership(team_id=team.id, user_id=user.id, role=team_role.value)
    session.add(membership)
    _audit(session, actor, "team.member_added", "team", team.id, request_id,
           {"user_id": user.id, "role": team_role.value})
    await session.flush()
    return membership


async def change_membership_role(*, session: AsyncSession, actor: Actor, team_id: str,
                                 user_id: str, role: str, request_id: str | None = None
                                 ) -> TeamMembership:
    team = await _managed_team(session, actor, team_id, "team.member_role_changed", request_id)
    team_role = parse_team_role(role)
    membership = await _membership(session, team, user_id)
    if membership.role == team_role:
        return membership
    previous, membership.role = membership.role, team_role.value
    _audit(session, actor, "team.member_role_changed", "team", team.id, request_id,
           {"user_id": user_id, "from": previous, "to": team_role.value})
    await session.flush()
    return membership


async def remove_membership(*, session: AsyncSession, actor: Actor, team_id: str,
                            user_id: str, request_id: str | None = None) -> None:
    team = await _managed_team(session, actor, team_id, "team.member_removed", request_id)
    membership = await _membership(session, team, user_id)
    await session.delete(membership)
    _audit(session, actor, "team.member_removed", "team", team.id, request_id,
           {"user_id": user_id, "role": membership.role})
    await session.flush()


async def add_team_member(
    *, session: AsyncSession, team_name: str, email: str, role: str
) -> TeamMembership:
    team_role = parse_team_role(role)
    team = await session.scalar(select(Team).where(Team.name == team_name.strip()))
    if team is None:
        raise NotFoundError(f"No team named {team_name!r}")
    user = await get_user_by_email(session=session, email=email)
    membership = await session.get(TeamMembership, (team.id, user.id))
    if membership is None:
        membership = TeamMembership(team_id=team.id, user_id=user.id, role=team_role.value)
        session.add(membership)
    else:
        membership.role = team_role.value
    await session.flush()
    return membership


async def team_roles_of(*, session: AsyncSession, user_id: str) -> dict[str, TeamRole]:
    rows = await session.execute(
        select(TeamMembership.team_id, TeamMembership.role).where(
            TeamMembership.user_id == user_id
        )
    )
    return {team_id: TeamRole(role) for team_id, role in rows}


async def create_api_key(
    *, session: AsyncSession, user: User, read_only: bool = False,
    name: str = DEFAULT_API_KEY_NAME,
) -> tuple[ApiKey, str]:
    """Returns the stored record and the key itself, which is never retrievable again."""
    name = _clean_name(name, label="Key name", limit=API_KEY_NAME_MAX)
    secret = new_secret()
    api_key = ApiKey(
        user_id=user.id, name=name, token_hash=digest(secret), hint=secret[-4:],
        read_only=read_only,
    )
    session.add(api_key)
    await session.flush()
    return api_key, secret


async def _require_key_admin(session: AsyncSession, actor: Actor, action: str,
                             target_id: str | None, request_id: str | None) -> None:
    await _require_admin(session, actor, action=action, target_type="api_key",
                         target_id=target_id, request_id=request_id,
                         message="Only admins and the Account Owner manage API keys")


async def add_api_key(*, session: AsyncSession, actor: Actor, name: str, read_only: bool,
                      request_id: str | None = None) -> tuple[ApiKey, str]:
    """An admin's new key, acting as that admin; the secret is in this answer only."""
    await _require_key_admin(session, actor, "api_key.created", None, request_id)
    user = await get_user(session=session, user_id=actor.user.id)
    api_key, secret = await create_api_key(session=session, user=user, read_only=read_only,
                                           name=name)
    _audit(session, actor, "api_key.created", "api_key", api_key.id, request_id,
           {"name": api_key.name, "read_only": read_only})
    return api_key, secret


def may_manage_api_keys(actor: Actor) -> bool:
    return _is_admin(actor)


def _check_may_read_keys(actor: Actor) -> None:
    # A read changes nothing, so its refusal is not an audit event (and GET sessions are
    # read-only).
    if not may_manage_api_keys(actor):
        raise AccessDeniedError("Only admins and the Account Owner manage API keys")


async def list_api_keys(*, session: AsyncSession, actor: Actor) -> list[tuple[ApiKey, User]]:
    """Every key with the user it acts as, newest first, revoked ones included."""
    _check_may_read_keys(actor)
    rows = await session.execute(select(ApiKey, User).join(User, User.id == ApiKey.user_id)
                                 .order_by(ApiKey.created_at.desc(), ApiKey.id))
    return [(api_key, user) for api_key, user in rows]


async def get_api_key(*, session: AsyncSession, actor: Actor, key_id: str
                      ) -> tuple[ApiKey, User]:
    _check_may_read_keys(actor)
    row = (await session.execute(select(ApiKey, User).join(User, User.id == ApiKey.user_id)
                                 .where(ApiKey.id == key_id))).first()
    if row is None:
        raise NotFoundError("No such API key")
    return row[0], row[1]


async def revoke_api_key(*, session: AsyncSession, actor: Actor, key_id: str,
                         request_id: str | None = None) -> ApiKey:
    await _require_key_admin(session, actor, "api_key.revoked", key_id, request_id)
    api_key = await session.get(ApiKey, key_id)
    if api_key is None:
        raise NotFoundError("No such API key")
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        _audit(session, actor, "api_key.revoked", "api_key", api_key.id, request_id,
               {"name": api_key.name})
        await session.flush()
    return api_key


@dataclass(frozen=True)
class Authenticated:
    user: User
    read_only: bool
    credential_id: str
    # API keys only: when the key was last recorded as used.
    last_used_at: datetime | None = None


# Built once: every API request runs it, and building the expression costs more than the query.
_API_KEY_LOOKUP = (
    select(User, ApiKey.read_only, ApiKey.id, ApiKey.last_used_at)
    .join(ApiKey, User.id == ApiKey.user_id)
    .where(ApiKey.token_hash == bindparam("token_hash"), ApiKey.revoked_at.is_(None),
           User.disabled_at.is_(None))
)


async def authenticate_api_key(*, session: AsyncSession, secret: str) -> Authenticated | None:
    row = (await session.execute(_API_KEY_LOOKUP, {"token_hash": digest(secret)})).first()
    if row is None:
        return None
    user, read_only, key_id, last_used_at = row
    return Authenticated(user=user, read_only=read_only, credential_id=key_id,
                         last_used_at=last_used_at)


def note_api_key_use(database: Database, found: Authenticated) -> None:
    """Records when an API key was last used, as `oauth.service.note_use` does for grants: at
    most once a minute per key, in its own transaction after the request, so that reads stay
    read-only and fast."""
    last = found.last_used_at
    key_id = found.credential_id
    if last is not None and utcnow() - last < LAST_USED_RESOLUTION:
        return
    database.in_background(f"api-key:{key_id}", lambda: _touch_api_key(database, key_id))


async def _touch_api_key(database: Database, key_id: str) -> None:
    now = utcnow()
    try:
        async with database.transaction() as session:
            # The condition keeps it to one write a minute when several nodes see the key.
            await session.execute(
                update(ApiKey).where(ApiKey.id == key_id, or_(
                    ApiKey.last_used_at.is_(None),
                    ApiKey.last_used_at <= now - LAST_USED_RESOLUTION))
                .values(last_used_at=now))
    except Exception:  # a missed "last used" time is not worth failing or retrying for
        log.debug("api_key_last_used_not_recorded", api_key_id=key_id, exc_info=True)


async def login(*, session: AsyncSession, email: str, password: str) -> tuple[User, str] | None:
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    # The password is checked first, so a disabled account answers in the same time as any.
    if not verify_password(user.password_hash if user else None, password) or user is None:
        return None
    if user.disabled:
        return None
    secret = new_secret()
    session.add(
        LoginSession(
            user_id=user.id, token_hash=digest(secret), expires_at=utcnow() + SESSION_LIFETIME
        )
    )
    await session.flush()
    return user, secret


async def authenticate_session(*, session: AsyncSession, secret: str) -> Authenticated | None:
    row = (
        await session.execute(
            select(LoginSession, User)
            .join(User, User.id == LoginSession.user_id)
            .where(LoginSession.token_hash == digest(secret), LoginSession.expires_at > utcnow(),
                   User.disabled_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    login_session, user = row
    return Authenticated(user=user, read_only=False, credential_id=login_session.id)


async def logout(*, session: AsyncSession, secret: str) -> None:
    found = await session.scalar(
        select(LoginSession).where(LoginSession.token_hash == digest(secret))
    )
    if found is not None:
        await session.delete(found)


async def delete_user(*, session: AsyncSession, actor: Actor, user_id: str,
                      request_id: str | None = None) -> None:
    """Only admins and the owner delete users; nobody deletes the owner or themselves. What the
    user held — API keys, sessions, OAuth grants and their tokens — goes with the row (ON
    DELETE CASCADE, in the same transaction); what they did stays, unattributed."""
    if actor.user.role not in {BaseRole.OWNER, BaseRole.ADMIN}:
        raise AccessDeniedError("Only admins and the account owner remove users")
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError()
    if user.role == BaseRole.OWNER or user.id == actor.user.id:
        raise InvalidInputError("The account owner and your own user cannot be removed")
    await session.delete(user)
    audit.record(session, actor_id=actor.user.id, actor=actor.user.email, action="user.deleted",
                 target_type="user", target_id=user_id, request_id=request_id,
                 details={"role": user.role})
    await session.flush()


async def bootstrap_owner(*, session: AsyncSession) -> tuple[User, str, str] | None:
    """On a database without users: an owner with a random password and an admin API key."""
    if await session.scalar(select(func.count()).select_from(User)):
        return None
    password = _new_password()
    owner = await create_user(
        session=session, email="owner@fireline.local", name="Account Owner",
        role=BaseRole.OWNER, password=password,
    )
    _, key = await create_api_key(session=session, user=owner)
    return owner, password, key
