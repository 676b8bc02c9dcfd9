"""Workflow Integrations pages, as reference/workflow-integrations.txt walks through them:
Integrations → Workflow Integrations (the catalog) → a tool (its connections table with the
Status column) → Add Connection (a modal; a page without JavaScript) → a connection's page with
its health-check history, Verify now, Edit, Reconnect (OAuth) and Delete with confirmation.

Every change goes through `connections.service`, the same functions the REST API calls, so
access (ACL-1), verification on save, audit and secrecy are the API's. The add/edit form is
generated from the tool's field schema (`web.fields`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from fireline.accounts.models import Team
from fireline.accounts.permissions import Session
from fireline.connections import external_ids, oauth, service
from fireline.connections.access import Verb
from fireline.connections.models import HEALTHY, UNKNOWN
from fireline.connections.schemas import ConnectionCreate, ConnectionUpdate, TeamReference
from fireline.connections.tools import Tools
from fireline.core.errors import (
    AccessDeniedError,
    ApiError,
    ConflictError,
    NotFoundError,
    validation_message,
)
from fireline.integrations import registry
from fireline.integrations.aws.setup import setup_info
from fireline.integrations.base import Integration
from fireline.web.fields import Field, fields_of, place_errors, submitted
from fireline.web.frame import CurrentViewer, Viewer, is_htmx, redirect, render

router = APIRouter(include_in_schema=False)
ROOT = "/integrations/workflow-integrations"
HEALTH_HISTORY = 50


def tool_url(integration: Integration) -> str:
    return f"{ROOT}/{integration.slug}"


def connection_url(integration: Integration, connection_id: str) -> str:
    return f"{tool_url(integration)}/connections/{connection_id}"


def _integration(slug: str) -> Integration:
    integration = registry.get(slug)
    if integration is None:
        raise NotFoundError(f"There is no workflow integration called {slug!r}")
    return integration


def _tools(request: Request) -> Tools:
    tools: Tools = request.app.state.tools
    return tools


async def _actor(request: Request, session: AsyncSession, viewer: Viewer) -> service.Actor:
    return await service.actor_for(session=session, principal=viewer.principal,
                                   request_id=getattr(request.state, "request_id", None))


async def _team_names(session: AsyncSession) -> dict[str, str]:
    return dict((await session.execute(select(Team.id, Team.name).order_by(Team.name))).all())


def status_of(connection: Any) -> str:
    """The Status column's words: Healthy, Unhealthy, or Not checked yet."""
    if connection.health_status == UNKNOWN:
        return "Not checked yet"
    return "Healthy" if connection.health_status == HEALTHY else "Unhealthy"


# --- the catalog and a tool's connections --------------------------------------------------

@router.get(ROOT)
async def catalog(request: Request, viewer: CurrentViewer, session: Session) -> HTMLResponse:
    actor = await _actor(request, session, viewer)
    visible, _ = await service.list_visible(session=session, actor=actor, integration_slug=None,
                                            name=None, offset=0, limit=10_000)
    counts: dict[str, list[int]] = {}
    for item in visible:
        healthy_unhealthy = counts.setdefault(item.connection.integration, [0, 0])
        healthy_unhealthy[0 if item.connection.health_status == HEALTHY else 1] += 1
    return render(request, "connections/catalog.html", viewer=viewer,
                  integrations=registry.INTEGRATIONS, counts=counts,
                  may_add=actor.may(Verb.CREATE), tool_url=tool_url)


async def _table_context(request: Request, session: AsyncSession, viewer: Viewer,
                         integration: Integration) -> dict[str, Any]:
    actor = await _actor(request, session, viewer)
    rows, _ = await service.list_visible(session=session, actor=actor,
                                         integration_slug=integration.slug, name=None, offset=0,
                                         limit=10_000)
    return {"integration": integration, "rows": rows, "teams": await _team_names(session),
            "may_add": actor.may(Verb.CREATE), "may_edit": lambda item: actor.may(
                Verb.EDIT, item.team_ids), "status_of": status_of,
            "connection_url": connection_url, "tool_url": tool_url}


@router.get(ROOT + "/{slug}")
async def tool_page(slug: str, request: Request, viewer: CurrentViewer,
                    session: Session) -> HTMLResponse:
    context = await _table_context(request, session, viewer, _integration(slug))
    return render(request, "connections/tool.html", viewer=viewer, **context)


@router.get(ROOT + "/{slug}/table")
async def tool_table(slug: str, request: Request, viewer: CurrentViewer,
                     session: Session) -> HTMLResponse:
    """The connections table alone: htmx refreshes it while the page is open."""
    context = await _table_context(request, session, viewer, _integration(slug))
    return render(request, "connections/_table.html", viewer=viewer, **context)


# --- add and edit: one form, generated from the tool's schema -------------------------------

@dataclass
class ConnectionForm:
    """What the add/edit form shows: the tool's fields and the connection-wide ones."""

    integration: Integration
    action: str
    fields: list[Field]
    name: str = ""
    is_default: bool = False
    allow_sre_agent: bool = False
    team_ids: tuple[str, ...] = ()
    external_id: str | None = None
    editing: bool = False
    errors: dict[str, str] | None = None  # name / teams / form-level ("")

    @property
    def access(self) -> str:
        return "teams" if self.team_ids else "all"


def _form_fields(integration: Integration, values: dict[str, Any] | None = None,
                 stored: tuple[str, ...] = ()) -> list[Field]:
    if integration.auth == "oauth":
        return []  # their details (workspace, site, tenant) come from the provider
    return (fields_of(integration.config, "configuration", values=values)
            + fields_of(integration.secrets, "secrets", stored_secrets=stored))


async def _render_form(request: Request, viewer: Viewer, session: AsyncSession,
                       form: ConnectionForm, actor: service.Actor,
                       status_code: int = 200) -> HTMLResponse:
    aws = None
    if form.integration.auth == "aws_role" and form.external_id:
        aws = setup_info(request.app.state.settings.aws_account_id or "", form.external_id)
    template = "connections/_form.html" if is_htmx(request) else "connections/form.html"
    return render(request, template, status_code=status_code, viewer=viewer, form=form,
                  integration=form.integration, aws=aws, all_teams=await _team_names(session),
                  may_change_access=actor.may(Verb.CHANGE_ACCESS), tool_url=tool_url)


@router.get(ROOT + "/{slug}/connections/new")
async def new_connection(slug: str, request: Request, viewer: CurrentViewer,
                         session: Session) -> HTMLResponse:
    integration = _integration(slug)
    actor = await _actor(request, session, viewer)
    if not actor.may(Verb.CREATE):
        raise AccessDeniedError(
            "Only managers, admins and the Account Owner add connections")
    form = ConnectionForm(integration, f"{tool_url(integration)}/connections",
                          _form_fields(integration))
    if integration.auth == "aws_role":  # AWS-1: issued by the server, shown before the ARN
        form.external_id = external_ids.issue(_tools(request).keyring)
    return await _render_form(request, viewer, session, form, actor)


def _common_input(posted: FormData, may_change_access: bool) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": str(posted.get("name", "")).strip(),
        "is_default": posted.get("is_default") == "on",
        "allow_sre_agent": posted.get("allow_sre_agent") == "on",
    }
    if may_change_access:
        chosen = [str(team) for team in posted.getlist("teams")]
        values["teams"] = [TeamReference(team_id=team) for team in chosen] \
            if posted.get("access") == "teams" else []
    return values


def _field_errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in exc.errors(include_input=False, include_url=False):
        where = str(item["loc"][0]) if item["loc"] else ""
        found.setdefault(where if where in {"name", "teams"} else "", validation_message(item))
    return found


def _refused(form: ConnectionForm, exc: ApiError) -> ConnectionForm:
    """An API error shown on the form: each message beside the field it names; a failed
    verification (the tool's own reason) beside the credentials it refused."""
    unplaced = place_errors(exc.errors, form.fields)
    errors: dict[str, str] = {}
    for message in unplaced:
        key = next((k for k in ("name", "teams") if message.startswith(f"{k}:")), "")
        errors.setdefault(key, message.partition(": ")[2] if key else message)
    if not exc.errors:
        credential = next((f for f in form.fields if f.secret), None)
        if credential is not None and "could not be verified" in exc.message:
            credential.error = exc.message
        else:
            errors[""] = exc.message
    form.errors = errors
    return form


@router.post(ROOT + "/{slug}/connections")
async def create_connection(slug: str, request: Request, viewer: CurrentViewer,
                            session: Session) -> Response:
    integration = _integration(slug)
    actor = await _actor(request, session, viewer)
    posted = await request.form()
    fields = _form_fields(integration)
    form = ConnectionForm(integration, f"{tool_url(integration)}/connections", fields)
    config = submitted(posted, "configuration", fields)
    secrets = submitted(posted, "secrets", fields)
    common = _common_input(posted, actor.may(Verb.CHANGE_ACCESS))
    form.name, form.is_default = common["name"], common["is_default"]
    form.allow_sre_agent = common["allow_sre_agent"]
    form.team_ids = tuple(team.key for team in common.get("teams", []))
    form.external_id = str(posted.get("external_id") or "") or None
    try:
        data = ConnectionCreate(configuration=config, secrets=secrets,
                                external_id=form.external_id, **common)
    except ValidationError as exc:
        form.errors = _field_errors(exc)
        return await _render_form(request, viewer, session, form, actor, 400)
    await session.close()  # the service opens its own transactions (SQLite: one writer)
    db, tools = request.app.state.database, _tools(request)
    try:
        loaded = await service.create_connection(db=db, tools=tools, actor=actor,
                                                 integration=integration, data=data)
        if integration.auth == "oauth":  # "You will be directed to ..." the provider
            return redirect(request, await oauth.start(
                db=db, tools=tools, actor=actor, integration=integration,
                connection_id=loaded.connection.id))
    except ApiError as exc:
        async with db.session(read_only=True) as fresh:
            return await _render_form(request, viewer, fresh, _refused(form, exc), actor,
                                      exc.status_code)
    connection = loaded.connection
    return redirect(request, connection_url(integration, connection.id),
                    flash=f"Connection “{connection.name}” added: {status_of(connection)}"
                    + (f" — {connection.health_message}" if connection.health_message else ""),
                    kind="success" if connection.health_status != "unhealthy" else "error")


@router.get(ROOT + "/{slug}/connections/{connection_id}/edit")
async def edit_connection(slug: str, connection_id: str, request: Request,
                          viewer: CurrentViewer, session: Session) -> HTMLResponse:
    integration = _integration(slug)
    actor = await _actor(request, session, viewer)
    loaded = await service.get_visible(session=session, actor=actor, integration_slug=slug,
                                       connection_id=connection_id, verb=Verb.EDIT)
    connection = loaded.connection
    form = ConnectionForm(
        integration, connection_url(integration, connection_id),
        _form_fields(integration, dict(connection.configuration),
                     tuple(connection.secret_fields)),
        name=connection.name, is_default=connection.is_default,
        allow_sre_agent=connection.allow_sre_agent, team_ids=tuple(loaded.team_ids),
        external_id=connection.external_id, editing=True)
    return await _render_form(request, viewer, session, form, actor)


@router.post(ROOT + "/{slug}/connections/{connection_id}")
async def update_connection(slug: str, connection_id: str, request: Request,
                            viewer: CurrentViewer, session: Session) -> Response:
    integration = _integration(slug)
    actor = await _actor(request, session, viewer)
    loaded = await service.get_visible(session=session, actor=actor, integration_slug=slug,
                                       connection_id=connection_id, verb=Verb.EDIT)
    posted = await request.form()
    fields = _form_fields(integration, dict(loaded.connection.configuration),
                          tuple(loaded.connection.secret_fields))
    common = _common_input(posted, actor.may(Verb.CHANGE_ACCESS))
    form = ConnectionForm(integration, connection_url(integration, connection_id), fields,
                          name=common["name"], is_default=common["is_default"],
                          allow_sre_agent=common["allow_sre_agent"],
                          team_ids=tuple(team.key for team in common["teams"])
                          if "teams" in common else tuple(loaded.team_ids),
                          external_id=loaded.connection.external_id, editing=True)
    config = submitted(posted, "configuration", fields)
    secrets = submitted(posted, "secrets", fields)
    try:
        data = ConnectionUpdate(configuration=config or None, secrets=secrets or None, **common)
    except ValidationError as exc:
        form.errors = _field_errors(exc)
        return await _render_form(request, viewer, session, form, actor, 400)
    await session.close()
    db = request.app.state.database
    try:
        updated = await service.update_connection(
            db=db, tools=_tools(request), actor=actor, integration=integration,
            connection_id=connection_id, data=data)
    except ApiError as exc:
        async with db.session(read_only=True) as fresh:
            return await _render_form(request, viewer, fresh, _refused(form, exc), actor,
                                      exc.status_code)
    return redirect(request, connection_url(integration, connection_id),
                    flash=f"Connection “{updated.connection.name}” saved: "
                    f"{status_of(updated.connection)}")


# --- a connection's page (after /new, which it would match) -------------------------------

@router.get(ROOT + "/{slug}/connections/{connection_id}")
async def connection_page(slug: str, connection_id: str, request: Request, viewer: CurrentViewer,
                          session: Session) -> HTMLResponse:
    integration = _integration(slug)
    actor = await _actor(request, session, viewer)
    loaded = await service.get_visible(session=session, actor=actor,
                                       integration_slug=slug, connection_id=connection_id)
    checks = await service.health_history(session=session, actor=actor, integration_slug=slug,
                                          connection_id=connection_id, limit=HEALTH_HISTORY)
    config = fields_of(integration.config, "configuration",
                       values=loaded.connection.configuration)
    may_edit = actor.may(Verb.EDIT, loaded.team_ids)
    choices, choice_error = [], None
    if may_edit and integration.oauth is not None and integration.oauth.choices is not None:
        await session.close()
        try:  # Confluence: several sites were granted and none is chosen yet
            choices = await oauth.choices(db=request.app.state.database, tools=_tools(request),
                                          actor=actor, integration=integration,
                                          connection_id=connection_id)
        except ApiError as exc:
            choice_error = exc.message
    return render(request, "connections/connection.html", viewer=viewer,
                  choices=choices, choice_error=choice_error,
                  integration=integration, item=loaded, checks=checks, config=config,
                  teams=await _team_names(session), status_of=status_of,
                  may_edit=may_edit, may_delete=actor.may(Verb.DELETE, loaded.team_ids),
                  secrets=[f.label for f in fields_of(integration.secrets, "secrets")
                           if f.name in loaded.connection.secret_fields],
                  tool_url=tool_url, connection_url=connection_url)


# --- verify, reconnect, delete --------------------------------------------------------------

@router.post(ROOT + "/{slug}/connections/{connection_id}/verify")
async def verify_now(slug: str, connection_id: str, request: Request, viewer: CurrentViewer,
                     session: Session) -> Response:
    integration = _integration(slug)
    actor = await _actor(request, session, viewer)
    await session.close()
    checked = await service.verify_connection(
        db=request.app.state.database, tools=_tools(request), actor=actor,
        integration=integration, connection_id=connection_id)
    connection = checked.connection
    back = str(await _back(request, connection_url(integration, connection_id)))
    return redirect(request, back, flash=f"“{connection.name}” is {status_of(connection)}"
                    + (f": {connection.health_message}" if connection.health_message else ""),
                    kind="success" if connection.health_status == HEALTHY else "error")


async def _back(request: Request, default: str) -> str:
    """Where a form asked to return to: one of our own pages only."""
    target = str((await request.form()).get("back", ""))
    return target if target.startswith(ROOT + "/") else default


@router.post(ROOT + "/{slug}/connections/{connection_id}/authorize")
async def reconnect(slug: str, connection_id: str, request: Request, viewer: CurrentViewer,
                    session: Session) -> Response:
    integration = _integration(slug)
    actor = await _actor(request, session, viewer)
    await session.close()
    url = await oauth.start(db=request.app.state.database, tools=_tools(request), actor=actor,
                            integration=integration, connection_id=connection_id)
    return redirect(request, url)


@router.post(ROOT + "/{slug}/connections/{connection_id}/choice")
async def choose(slug: str, connection_id: str, request: Request, viewer: CurrentViewer,
                 session: Session) -> Response:
    """The granted resource this connection uses (Confluence: "Select the specific Confluence
    site to integrate")."""
    integration = _integration(slug)
    actor = await _actor(request, session, viewer)
    choice = str((await request.form()).get("choice", ""))
    await session.close()
    url = connection_url(integration, connection_id)
    try:
        chosen = await oauth.choose(db=request.app.state.database, tools=_tools(request),
                                    actor=actor, integration=integration,
                                    connection_id=connection_id, choice=choice)
    except ApiError as exc:
        return redirect(request, url, flash=exc.message, kind="error")
    checked = await service.check_stored(db=request.app.state.database, tools=_tools(request),
                                         integration=integration, connection_id=chosen.id,
                                         trigger="on_demand", actor=actor)
    return redirect(request, url, flash=f"Saved: “{checked.connection.name}” is "
                    f"{status_of(checked.connection)}")


@router.get(ROOT + "/{slug}/connections/{connection_id}/delete")
async def confirm_delete(slug: str, connection_id: str, request: Request,
                         viewer: CurrentViewer, session: Session) -> HTMLResponse:
    integration = _integration(slug)
    actor = await _actor(request, session, viewer)
    loaded = await service.get_visible(session=session, actor=actor, integration_slug=slug,
                                       connection_id=connection_id, verb=Verb.DELETE)
    return _render_delete(request, viewer, integration, loaded.connection)


def _render_delete(request: Request, viewer: Viewer, integration: Integration, connection: Any,
                   used_by: list[str] | None = None, status_code: int = 200) -> HTMLResponse:
    template = "connections/_delete.html" if is_htmx(request) else "connections/delete.html"
    return render(request, template, status_code=status_code, viewer=viewer,
                  integration=integration, connection=connection, used_by=used_by,
                  action=f"{connection_url(integration, connection.id)}/delete",
                  tool_url=tool_url, connection_url=connection_url)


@router.post(ROOT + "/{slug}/connections/{connection_id}/delete")
async def delete_connection(slug: str, connection_id: str, request: Request,
                            viewer: CurrentViewer, session: Session) -> Response:
    integration = _integration(slug)
    actor = await _actor(request, session, viewer)
    loaded = await service.get_visible(session=session, actor=actor, integration_slug=slug,
                                       connection_id=connection_id, verb=Verb.DELETE)
    force = (await request.form()).get("force") == "true"
    await session.close()
    try:
        await service.delete_connection(db=request.app.state.database, actor=actor,
                                        integration=integration, connection_id=connection_id,
                                        force=force)
    except ConflictError as exc:  # used by workflows: name them, offer to delete anyway
        used_by = [error.partition(": ")[2] for error in exc.errors]
        return _render_delete(request, viewer, integration, loaded.connection, used_by, 409)
    return redirect(request, tool_url(integration),
                    flash=f"Connection “{loaded.connection.name}” deleted")


# --- the OAuth connect callback: the provider sends the browser back here -------------------

@router.get("/integrations/oauth/callback/{slug}")
async def oauth_callback(slug: str, request: Request, viewer: CurrentViewer, session: Session,
                         state: str = "", code: str | None = None,
                         error: str | None = None) -> Response:
    """`state` was bound to the signed-in user when the flow started, so a callback carried
    to another browser (login CSRF, RFC 6749 §10.12) is refused."""
    integration = registry.get(slug)
    if integration is None or integration.oauth is None:
        raise NotFoundError("No such OAuth integration")
    actor = await _actor(request, session, viewer)
    await session.close()
    db, tools = request.app.state.database, _tools(request)
    try:
        connection = await oauth.complete(db=db, tools=tools, actor=actor,
                                          integration=integration, state=state, code=code,
                                          error=error)
        checked = await service.check_stored(db=db, tools=tools, integration=integration,
                                             connection_id=connection.id, trigger="connect",
                                             actor=actor)
    except ApiError as exc:
        return render(request, "connections/oauth_failed.html", status_code=exc.status_code,
                      viewer=viewer, integration=integration, error=exc.message,
                      tool_url=tool_url)
    stored = checked.connection
    return redirect(request, connection_url(integration, stored.id),
                    flash=f"{integration.title} connected: “{stored.name}” is "
                    f"{status_of(stored)}",
                    kind="success" if stored.health_status == HEALTHY else "error")
