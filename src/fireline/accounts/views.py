"""REST API for accounts (PagerDuty shapes): users (the current one, by id, listed) and teams."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, or_, select

from fireline.accounts import service
from fireline.accounts.models import Team, TeamMembership, User
from fireline.accounts.permissions import CurrentPrincipal, Session
from fireline.accounts.roles import PAGERDUTY_ROLE_NAMES, BaseRole
from fireline.core.errors import NotFoundError
from fireline.core.pagination import Pagination, paginate
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


@router.get("/users")
async def list_users(
    request: Request, principal: CurrentPrincipal, session: Session, page: Pagination,
    query: str | None = None,
) -> dict[str, Any]:
    statement = select(User)
    if query:
        pattern = query.lower()
        statement = statement.where(or_(func.lower(User.name).contains(pattern),
                                        func.lower(User.email).contains(pattern)))
    found = await paginate(session, statement.order_by(User.name, User.id), page)
    base_url = request.app.state.settings.base_url
    return found.body("users", [await user_body(session, base_url, user)
                                for user in found.items])


@router.get("/users/{user_id}")
async def get_user(
    user_id: str, request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError()
    return {"user": await user_body(session, request.app.state.settings.base_url, user)}


@router.delete("/users/{user_id}", status_code=204)
async def delete_user(
    user_id: str, request: Request, principal: CurrentPrincipal, session: Session
) -> Response:
    """PagerDuty's `DELETE /users/{id}`: admins remove a user; their API keys, sessions and
    every OAuth token they authorized end with them."""
    await service.delete_user(session=session, actor=principal, user_id=user_id,
                              request_id=getattr(request.state, "request_id", None))
    await session.commit()
    return Response(status_code=204)


def team_body(base_url: str, team: Team) -> dict[str, Any]:
    return resource(base_url, "team", team.id, team.name, name=team.name,
                    description=team.description, parent=None, default_role="manager")


@router.get("/teams")
async def list_teams(
    request: Request, principal: CurrentPrincipal, session: Session, page: Pagination,
    query: str | None = None,
) -> dict[str, Any]:
    statement = select(Team)
    if query:
        statement = statement.where(func.lower(Team.name).contains(query.lower()))
    found = await paginate(session, statement.order_by(Team.name, Team.id), page)
    base_url = request.app.state.settings.base_url
    return found.body("teams", [team_body(base_url, team) for team in found.items])


@router.get("/teams/{team_id}")
async def get_team(
    team_id: str, request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFoundError()
    return {"team": team_body(request.app.state.settings.base_url, team)}
