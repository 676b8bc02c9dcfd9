"""REST API for accounts (PagerDuty shapes): the current user and users by id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from fireline.accounts.models import Team, TeamMembership, User
from fireline.accounts.permissions import CurrentPrincipal, Session
from fireline.accounts.roles import PAGERDUTY_ROLE_NAMES, BaseRole
from fireline.core.errors import NotFoundError
from fireline.core.resources import reference, resource

router = APIRouter(prefix="/api", tags=["users"])


async def user_body(session: Session, base_url: str, user: User) -> dict[str, Any]:
    teams = await session.execute(
        select(Team.id, Team.name)
        .join(TeamMembership, TeamMembership.team_id == Team.id)
        .where(TeamMembership.user_id == user.id)
        .order_by(Team.name)
    )
    return resource(
        base_url, "user", user.id, user.name,
        name=user.name,
        email=user.email,
        time_zone=user.time_zone,
        color="purple",
        role=PAGERDUTY_ROLE_NAMES[BaseRole(user.role)],
        avatar_url=None,
        description=user.description,
        invitation_sent=False,
        job_title=user.job_title,
        teams=[reference(base_url, "team", team_id, name) for team_id, name in teams],
        contact_methods=[],
        notification_rules=[],
    )


@router.get("/users/me")
async def get_current_user(
    request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    base_url = request.app.state.settings.base_url
    return {"user": await user_body(session, base_url, principal.user)}


@router.get("/users/{user_id}")
async def get_user(
    user_id: str, request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError()
    return {"user": await user_body(session, request.app.state.settings.base_url, user)}
