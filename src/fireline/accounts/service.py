"""Accounts: users, teams, memberships, API keys and browser sessions.

Every function validates its input before writing and raises `InvalidInputError` or
`ConflictError` with a message naming the problem; nothing is written on failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TypeVar

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.models import ApiKey, LoginSession, Team, TeamMembership, User
from fireline.accounts.passwords import MIN_LENGTH, hash_password, verify_password
from fireline.accounts.roles import BaseRole, TeamRole
from fireline.accounts.tokens import digest, new_secret
from fireline.core import audit
from fireline.core.clock import utcnow
from fireline.core.errors import (
    AccessDeniedError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)

SESSION_LIFETIME = timedelta(hours=12)
_E = TypeVar("_E", BaseRole, TeamRole)


class Actor(Protocol):
    @property
    def user(self) -> User: ...

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$")


def _parse_enum(kind: type[_E], value: str, label: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidInputError(
            f"Unknown {label} {value!r}", errors=[f"{label} must be one of: {allowed}"]
        ) from None


def parse_base_role(value: str) -> BaseRole:
    return _parse_enum(BaseRole, value, "role")


def parse_team_role(value: str) -> TeamRole:
    return _parse_enum(TeamRole, value, "team role")


async def create_user(
    *,
    session: AsyncSession,
    email: str,
    name: str,
    role: str,
    password: str | None = None,
    time_zone: str = "Etc/UTC",
) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInputError(f"Invalid email address {email!r}")
    if not name.strip():
        raise InvalidInputError("Name must not be empty")
    base_role = parse_base_role(role)
    if password is not None and len(password) < MIN_LENGTH:
        raise InvalidInputError(f"Password must be at least {MIN_LENGTH} characters")
    if await session.scalar(select(User.id).where(User.email == email)):
        raise ConflictError(f"A user with email {email!r} already exists")
    user = User(
        email=email,
        name=name.strip(),
        role=base_role.value,
        time_zone=time_zone,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent insert won the race for the email
        raise ConflictError(f"A user with email {email!r} already exists") from exc
    return user


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
    password = password if password is not None else new_secret()[:20]
    if len(password) < MIN_LENGTH:
        raise InvalidInputError(f"Password must be at least {MIN_LENGTH} characters")
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
    name = name.strip()
    if not name:
        raise InvalidInputError("Team name must not be empty")
    if await session.scalar(select(Team.id).where(Team.name == name)):
        raise ConflictError(f"A team named {name!r} already exists")
    team = Team(name=name, description=description)
    session.add(team)
    await session.flush()
    return team


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
    *, session: AsyncSession, user: User, read_only: bool = False
) -> tuple[ApiKey, str]:
    """Returns the stored record and the key itself, which is never retrievable again."""
    secret = new_secret()
    api_key = ApiKey(
        user_id=user.id, token_hash=digest(secret), hint=secret[-4:], read_only=read_only
    )
    session.add(api_key)
    await session.flush()
    return api_key, secret


@dataclass(frozen=True)
class Authenticated:
    user: User
    read_only: bool
    credential_id: str


# Built once: every API request runs it, and building the expression costs more than the query.
_API_KEY_LOOKUP = (
    select(User, ApiKey.read_only, ApiKey.id)
    .join(ApiKey, User.id == ApiKey.user_id)
    .where(ApiKey.token_hash == bindparam("token_hash"), ApiKey.revoked_at.is_(None))
)


async def authenticate_api_key(*, session: AsyncSession, secret: str) -> Authenticated | None:
    row = (await session.execute(_API_KEY_LOOKUP, {"token_hash": digest(secret)})).first()
    if row is None:
        return None
    user, read_only, key_id = row
    return Authenticated(user=user, read_only=read_only, credential_id=key_id)


async def login(*, session: AsyncSession, email: str, password: str) -> tuple[User, str] | None:
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if not verify_password(user.password_hash if user else None, password) or user is None:
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
            .where(LoginSession.token_hash == digest(secret), LoginSession.expires_at > utcnow())
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
    password = new_secret()[:20]
    owner = await create_user(
        session=session, email="owner@fireline.local", name="Account Owner",
        role=BaseRole.OWNER, password=password,
    )
    _, key = await create_api_key(session=session, user=owner)
    return owner, password, key
