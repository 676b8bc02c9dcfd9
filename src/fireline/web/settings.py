"""Pages of the settings domain (see DESIGN.md, the web app): users, teams and their members,
API keys, and your own profile and password.

The accounts service decides who may change what (a refusal is the 403 page) and audits each
change; these pages parse forms, call it and shape the answer. A form with bad input comes
back with status 400, the message beside its field and what was typed kept — passwords never.
A new user's password and a new API key are shown once, in the answer to the POST that made
them: never in a redirect, a flash message, a URL or any later page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts import service
from fireline.accounts.models import User
from fireline.accounts.passwords import MIN_LENGTH
from fireline.accounts.permissions import Session
from fireline.accounts.roles import BaseRole, TeamRole
from fireline.core.errors import AccessDeniedError, ConflictError, InvalidInputError
from fireline.web.frame import (
    ROLE_LABELS,
    CurrentViewer,
    FormState,
    Viewer,
    redirect,
    render,
    start_over,
)

router = APIRouter(include_in_schema=False)

TEAM_ROLE_LABELS = {TeamRole.MANAGER: "Manager", TeamRole.RESPONDER: "Responder",
                    TeamRole.OBSERVER: "Observer"}
_FormFailure = (InvalidInputError, ConflictError)


def _when(value: datetime | None, never: str = "never") -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else never


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _page(request: Request, name: str, viewer: Viewer, status_code: int = 200,
          **context: Any) -> HTMLResponse:
    return render(request, f"settings/{name}", status_code, viewer=viewer,
                  role_labels=ROLE_LABELS, team_role_labels=TEAM_ROLE_LABELS, when=_when,
                  is_admin=viewer.principal.is_admin, **context)


def _require_admin_page(viewer: Viewer) -> None:
    if not viewer.principal.is_admin:
        raise AccessDeniedError("Only admins and the Account Owner can do this")


# The index


@router.get("/settings")
async def settings_index(request: Request, viewer: CurrentViewer) -> HTMLResponse:
    return _page(request, "index.html", viewer,
                 may_manage_keys=service.may_manage_api_keys(viewer.principal))


# Users


def _role_choices() -> list[tuple[str, str]]:
    return [(role.value, ROLE_LABELS[role]) for role in service.ASSIGNABLE_ROLES]


@router.get("/settings/users")
async def users_page(request: Request, viewer: CurrentViewer, session: Session) -> HTMLResponse:
    teams_of: dict[str, list[service.Membership]] = defaultdict(list)
    for membership in await service.memberships(session=session):
        teams_of[membership.user.id].append(membership)
    return _page(request, "users.html", viewer, people=await service.list_users(session=session),
                 teams_of=teams_of)


def _new_user_page(request: Request, viewer: Viewer, form: FormState,
                   status_code: int = 200) -> HTMLResponse:
    return _page(request, "user_new.html", viewer, status_code, form=form,
                 roles=_role_choices())


@router.get("/settings/users/new")
async def new_user_page(request: Request, viewer: CurrentViewer) -> HTMLResponse:
    _require_admin_page(viewer)
    return _new_user_page(request, viewer, FormState({"role": BaseRole.RESPONDER.value}))


@router.post("/settings/users/new")
async def create_user(request: Request, viewer: CurrentViewer, session: Session,
                      name: str = Form(""), email: str = Form(""), role: str = Form("")
                      ) -> HTMLResponse:
    values = {"name": name, "email": email, "role": role}
    try:
        person, password = await service.invite_user(
            session=session, actor=viewer.principal, email=email, name=name, role=role,
            request_id=_request_id(request))
    except _FormFailure as error:
        await start_over(session, viewer)
        return _new_user_page(request, viewer, FormState.failed(values, error), 400)
    await session.commit()
    # Shown here, in the POST's own answer, and nowhere else ever again.
    return _page(request, "user_created.html", viewer, person=person, password=password,
                 min_length=MIN_LENGTH)


async def _user_page(request: Request, viewer: Viewer, session: AsyncSession, user_id: str,
                     form: FormState | None = None, status_code: int = 200) -> HTMLResponse:
    person = await service.get_user(session=session, user_id=user_id)
    manageable = (viewer.principal.is_admin and person.id != viewer.user.id
                  and person.role != BaseRole.OWNER)
    return _page(request, "user.html", viewer, status_code, person=person,
                 memberships=await service.memberships(session=session, user_id=person.id),
                 manageable=manageable, roles=_role_choices(),
                 form=form or FormState({"role": person.role}))


@router.get("/users/{user_id}")
async def user_page(user_id: str, request: Request, viewer: CurrentViewer,
                    session: Session) -> HTMLResponse:
    return await _user_page(request, viewer, session, user_id)


@router.post("/users/{user_id}/role")
async def change_role(user_id: str, request: Request, viewer: CurrentViewer, session: Session,
                      role: str = Form("")) -> Response:
    try:
        person = await service.change_user_role(session=session, actor=viewer.principal,
                                                user_id=user_id, role=role,
                                                request_id=_request_id(request))
    except _FormFailure as error:
        await start_over(session, viewer)
        return await _user_page(request, viewer, session, user_id,
                                FormState.failed({"role": role}, error), 400)
    await session.commit()
    return redirect(request, f"/users/{person.id}",
                    flash=f"{person.name} is now {ROLE_LABELS[BaseRole(person.role)]}.")


@router.get("/users/{user_id}/disable")
async def disable_user_page(user_id: str, request: Request, viewer: CurrentViewer,
                            session: Session) -> HTMLResponse:
    _require_admin_page(viewer)
    person = await service.get_user(session=session, user_id=user_id)
    return _page(request, "user_disable.html", viewer, person=person)


async def _set_disabled(request: Request, viewer: Viewer, session: AsyncSession, user_id: str,
                        disabled: bool) -> Response:
    person = await service.set_user_disabled(session=session, actor=viewer.principal,
                                             user_id=user_id, disabled=disabled,
                                             request_id=_request_id(request))
    await session.commit()
    text = (f"{person.name} is disabled: their sessions, API keys and app authorizations "
            "have ended." if disabled else f"{person.name} is active again and can sign in.")
    return redirect(request, f"/users/{person.id}", flash=text)


@router.post("/users/{user_id}/disable")
async def disable_user(user_id: str, request: Request, viewer: CurrentViewer,
                       session: Session) -> Response:
    return await _set_disabled(request, viewer, session, user_id, True)


@router.post("/users/{user_id}/enable")
async def enable_user(user_id: str, request: Request, viewer: CurrentViewer,
                      session: Session) -> Response:
    return await _set_disabled(request, viewer, session, user_id, False)


# Teams


async def _teams_page(request: Request, viewer: Viewer, session: AsyncSession,
                      form: FormState | None = None, status_code: int = 200) -> HTMLResponse:
    return _page(request, "teams.html", viewer, status_code,
                 teams=await service.list_teams(session=session),
                 may_add=service.may_add_teams(viewer.principal), form=form or FormState())


@router.get("/settings/teams")
async def teams_page(request: Request, viewer: CurrentViewer, session: Session) -> HTMLResponse:
    return await _teams_page(request, viewer, session)


@router.post("/settings/teams")
async def create_team(request: Request, viewer: CurrentViewer, session: Session,
                      name: str = Form(""), description: str = Form("")) -> Response:
    values = {"name": name, "description": description}
    try:
        team = await service.add_team(session=session, actor=viewer.principal, name=name,
                                      description=description, request_id=_request_id(request))
    except _FormFailure as error:
        await start_over(session, viewer)
        return await _teams_page(request, viewer, session, FormState.failed(values, error), 400)
    await session.commit()
    return redirect(request, f"/teams/{team.id}", flash=f"Team {team.name} created.")


async def _team_page(request: Request, viewer: Viewer, session: AsyncSession, team_id: str, *,
                     add_form: FormState | None = None, member_errors: dict[str, str] | None = None,
                     status_code: int = 200) -> HTMLResponse:
    team = await service.get_team(session=session, team_id=team_id)
    members = await service.memberships(session=session, team_id=team.id)
    member_ids = {membership.user.id for membership in members}
    candidates = [(person.id, f"{person.name} ({person.email})")
                  for person in await service.list_users(session=session)
                  if person.id not in member_ids]
    return _page(request, "team.html", viewer, status_code, team=team, members=members,
                 candidates=candidates,
                 may_manage=await service.may_manage_team(session=session,
                                                          actor=viewer.principal,
                                                          team_id=team.id),
                 add_form=add_form or FormState({"role": TeamRole.RESPONDER.value}),
                 member_errors=member_errors or {})


@router.get("/teams/{team_id}")
async def team_page(team_id: str, request: Request, viewer: CurrentViewer,
                    session: Session) -> HTMLResponse:
    return await _team_page(request, viewer, session, team_id)


async def _membership_change(request: Request, viewer: Viewer, session: AsyncSession,
                             team_id: str, change: Callable[[], Awaitable[str]],
                             on_error: Callable[[InvalidInputError | ConflictError],
                                                dict[str, Any]]) -> Response:
    try:
        flash = await change()
    except _FormFailure as error:
        await start_over(session, viewer)
        return await _team_page(request, viewer, session, team_id, status_code=400,
                                **on_error(error))
    await session.commit()
    return redirect(request, f"/teams/{team_id}", flash=flash)


async def _name_of(session: AsyncSession, user_id: str) -> str:
    user = await session.get(User, user_id)
    return user.name if user else "The user"


@router.post("/teams/{team_id}/members")
async def add_member(team_id: str, request: Request, viewer: CurrentViewer, session: Session,
                     user_id: str = Form(""), role: str = Form("")) -> Response:
    async def change() -> str:
        await service.add_membership(session=session, actor=viewer.principal, team_id=team_id,
                                     user_id=user_id, role=role,
                                     request_id=_request_id(request))
        return f"{await _name_of(session, user_id)} added as {TEAM_ROLE_LABELS[TeamRole(role)]}."

    return await _membership_change(
        request, viewer, session, team_id, change,
        lambda error: {"add_form": FormState.failed({"user_id": user_id, "role": role}, error)})


@router.post("/teams/{team_id}/members/{user_id}/role")
async def change_member_role(team_id: str, user_id: str, request: Request,
                             viewer: CurrentViewer, session: Session,
                             role: str = Form("")) -> Response:
    async def change() -> str:
        await service.change_membership_role(session=session, actor=viewer.principal,
                                             team_id=team_id, user_id=user_id, role=role,
                                             request_id=_request_id(request))
        return (f"{await _name_of(session, user_id)} is now "
                f"{TEAM_ROLE_LABELS[TeamRole(role)]} of this team.")

    return await _membership_change(request, viewer, session, team_id, change,
                                    lambda error: {"member_errors": {user_id: error.message}})


@router.post("/teams/{team_id}/members/{user_id}/remove")
async def remove_member(team_id: str, user_id: str, request: Request, viewer: CurrentViewer,
                        session: Session) -> Response:
    async def change() -> str:
        await service.remove_membership(session=session, actor=viewer.principal,
                                        team_id=team_id, user_id=user_id,
                                        request_id=_request_id(request))
        return f"{await _name_of(session, user_id)} removed from the team."

    return await _membership_change(request, viewer, session, team_id, change,
                                    lambda error: {"member_errors": {user_id: error.message}})


# API keys


async def _api_keys_page(request: Request, viewer: Viewer, session: AsyncSession,
                         form: FormState | None = None, status_code: int = 200) -> HTMLResponse:
    keys = await service.list_api_keys(session=session, actor=viewer.principal)
    return _page(request, "api_keys.html", viewer, status_code, keys=keys,
                 form=form or FormState(), name_max=service.API_KEY_NAME_MAX)


@router.get("/settings/api_keys")
async def api_keys_page(request: Request, viewer: CurrentViewer,
                        session: Session) -> HTMLResponse:
    return await _api_keys_page(request, viewer, session)


@router.post("/settings/api_keys")
async def create_api_key(request: Request, viewer: CurrentViewer, session: Session,
                         name: str = Form(""), read_only: str = Form("")) -> HTMLResponse:
    values = {"name": name, "read_only": read_only}
    try:
        api_key, secret = await service.add_api_key(
            session=session, actor=viewer.principal, name=name, read_only=bool(read_only),
            request_id=_request_id(request))
    except _FormFailure as error:
        await start_over(session, viewer)
        return await _api_keys_page(request, viewer, session, FormState.failed(values, error),
                                    400)
    await session.commit()
    # Shown here, in the POST's own answer, and nowhere else ever again.
    return _page(request, "api_key_created.html", viewer, api_key=api_key, secret=secret)


@router.get("/settings/api_keys/{key_id}/revoke")
async def revoke_api_key_page(key_id: str, request: Request, viewer: CurrentViewer,
                              session: Session) -> HTMLResponse:
    api_key, owner = await service.get_api_key(session=session, actor=viewer.principal,
                                               key_id=key_id)
    return _page(request, "api_key_revoke.html", viewer, api_key=api_key, owner=owner)


@router.post("/settings/api_keys/{key_id}/revoke")
async def revoke_api_key(key_id: str, request: Request, viewer: CurrentViewer,
                         session: Session) -> Response:
    api_key = await service.revoke_api_key(session=session, actor=viewer.principal,
                                           key_id=key_id, request_id=_request_id(request))
    await session.commit()
    return redirect(request, "/settings/api_keys",
                    flash=f"API key {api_key.name} is revoked: it no longer works.")


# Your profile


def _profile_page(request: Request, viewer: Viewer, *, profile: FormState | None = None,
                  password: FormState | None = None, status_code: int = 200) -> HTMLResponse:
    user = viewer.user
    return _page(request, "profile.html", viewer, status_code,
                 profile=profile or FormState({"name": user.name, "time_zone": user.time_zone}),
                 password=password or FormState(), time_zones=sorted(service.time_zones()),
                 min_length=MIN_LENGTH)


@router.get("/settings/profile")
async def profile_page(request: Request, viewer: CurrentViewer) -> HTMLResponse:
    return _profile_page(request, viewer)


@router.post("/settings/profile")
async def update_profile(request: Request, viewer: CurrentViewer, session: Session,
                         name: str = Form(""), time_zone: str = Form("")) -> Response:
    values = {"name": name, "time_zone": time_zone}
    try:
        await service.update_profile(session=session, actor=viewer.principal, name=name,
                                     time_zone=time_zone, request_id=_request_id(request))
    except _FormFailure as error:
        await start_over(session, viewer)
        return _profile_page(request, viewer, profile=FormState.failed(values, error),
                             status_code=400)
    await session.commit()
    return redirect(request, "/settings/profile", flash="Your profile is saved.")


@router.post("/settings/profile/password")
async def change_password(request: Request, viewer: CurrentViewer, session: Session,
                          current_password: str = Form(""), new_password: str = Form(""),
                          confirm_password: str = Form("")) -> Response:
    try:
        await service.change_password(
            session=session, actor=viewer.principal, current_password=current_password,
            new_password=new_password, confirmation=confirm_password,
            keep_session_id=viewer.principal.credential_id, request_id=_request_id(request))
    except _FormFailure as error:
        await start_over(session, viewer)
        # Passwords are never sent back: only which field is wrong.
        fields = dict.fromkeys(("current_password", "new_password", "confirm_password"), "")
        return _profile_page(request, viewer, password=FormState.failed(fields, error),
                             status_code=400)
    await session.commit()
    return redirect(request, "/settings/profile",
                    flash="Your password is changed; your other sessions are signed out.")
