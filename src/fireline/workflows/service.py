"""Workflows: save (create or replace, as a new immutable version), read, delete, start by
hand, and read runs.

Who may do what:
- saving or deleting a workflow: global managers and above, and team managers; ACL-3 — every
  step's connection (an id, or the tool's current default) must be one the saver may
  *select* (`connections.access`), else the save is refused naming the step. A connection
  the saver may not see at all is reported as unknown (ACL-2);
- starting one by hand: whoever may change the incident, and, when the workflow's run
  permission is `teams`, only members of those teams (or admins);
- reading workflows and runs: everyone signed in; runs of incidents a restricted user cannot
  see are hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.models import Team, TeamMembership, User
from fireline.accounts.permissions import Principal
from fireline.accounts.roles import BaseRole, TeamRole
from fireline.accounts.service import team_roles_of
from fireline.connections import service as connection_service
from fireline.connections.access import Verb, allowed
from fireline.connections.models import Connection, ConnectionTeam
from fireline.core import audit
from fireline.core.clock import utcnow
from fireline.core.errors import (
    AccessDeniedError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from fireline.core.pagination import Page, PageParams, paginate
from fireline.incidents import access as incident_access
from fireline.incidents.models import Incident, Service
from fireline.workflows import definitions, runs, triggers
from fireline.workflows.definitions import Definition
from fireline.workflows.models import Run, RunStep, Workflow, WorkflowVersion


@dataclass(frozen=True)
class Editor:
    """A user as the connections' access rule sees them."""

    user: User
    team_roles: Mapping[str, TeamRole]

    def may_select(self, scope_team_ids: list[str]) -> bool:
        return allowed(Verb.SELECT, role=BaseRole(self.user.role), team_roles=self.team_roles,
                       scope_team_ids=scope_team_ids)


async def editor_for(*, session: AsyncSession, user: User) -> Editor:
    return Editor(user, await team_roles_of(session=session, user_id=user.id))


def require_author(principal: Principal, editor: Editor) -> None:
    if principal.read_only or principal.role is BaseRole.RESTRICTED:
        raise AccessDeniedError("Your role may not change workflows")
    if principal.is_global_manager_or_above:
        return
    if not any(role is TeamRole.MANAGER for role in editor.team_roles.values()):
        raise AccessDeniedError("Only managers and admins change workflows")


async def resolve_connection(
    *, session: AsyncSession, integration: str, reference: str
) -> tuple[Connection, list[str]] | None:
    """The step's connection (its id, or the tool's default now) and its scope teams."""
    if reference == "default":
        connection = await session.scalar(select(Connection).where(
            Connection.integration == integration, Connection.is_default.is_(True)))
    else:
        connection = await session.get(Connection, reference)
        if connection is not None and connection.integration != integration:
            connection = None
    if connection is None:
        return None
    teams = list(await session.scalars(
        select(ConnectionTeam.team_id).where(ConnectionTeam.connection_id == connection.id)))
    return connection, teams


async def selectable_connections(
    *, session: AsyncSession, editor: Editor, integration: str
) -> list[Connection]:
    """The tool's connections `editor` may pick for a step (ACL-1), by name: the editor's
    picker offers exactly what `check_connections` accepts."""
    found = list(await session.scalars(select(Connection).where(
        Connection.integration == integration).order_by(Connection.name, Connection.id)))
    teams: dict[str, list[str]] = {connection.id: [] for connection in found}
    if found:
        for connection_id, team_id in await session.execute(
                select(ConnectionTeam.connection_id, ConnectionTeam.team_id)
                .where(ConnectionTeam.connection_id.in_(list(teams)))):
            teams[connection_id].append(team_id)
    return [connection for connection in found if editor.may_select(teams[connection.id])]


async def check_connections(
    *, session: AsyncSession, editor: Editor, definition: Definition
) -> None:
    """ACL-3 at save time."""
    errors = []
    for step in definition.steps:
        spec = definitions.find_action(step.action)
        if spec is None or spec.integration is None:
            continue
        found = await resolve_connection(session=session, integration=spec.integration,
                                         reference=step.connection)
        if found is None:
            if step.connection != "default":
                errors.append(f"steps.{step.id}.connection: no {spec.integration} connection "
                              f"{step.connection!r}")
            continue
        connection, teams = found
        if not editor.may_select(teams):
            visible = allowed(Verb.VIEW, role=BaseRole(editor.user.role),
                              team_roles=editor.team_roles, scope_team_ids=teams)
            errors.append(
                f"steps.{step.id}.connection: you may not use connection {connection.id!r}"
                if visible else
                f"steps.{step.id}.connection: no {spec.integration} connection "
                f"{step.connection!r}")
    if errors:
        raise AccessDeniedError("A step uses a connection you may not select", errors=errors)


async def _check_teams(session: AsyncSession, team_ids: list[str]) -> None:
    if not team_ids:
        return
    found = set(await session.scalars(select(Team.id).where(Team.id.in_(team_ids))))
    missing = [team_id for team_id in team_ids if team_id not in found]
    if missing:
        raise InvalidInputError(errors=[f"run_permission.teams: no team {t!r}" for t in missing])


async def _check_services(session: AsyncSession, service_ids: list[str]) -> None:
    if not service_ids:
        return
    found = set(await session.scalars(select(Service.id).where(Service.id.in_(service_ids))))
    missing = [service_id for service_id in service_ids if service_id not in found]
    if missing:
        raise InvalidInputError(errors=[f"trigger.services: no service {s!r}" for s in missing])


def _audit(session: AsyncSession, principal: Principal, action: str, workflow_id: str,
           request_id: str | None, details: dict[str, Any] | None = None) -> None:
    audit.record(session, actor_id=principal.user.id, actor=principal.user.email, action=action,
                 target_type="workflow", target_id=workflow_id, request_id=request_id,
                 details=details)


async def save_workflow(
    *, session: AsyncSession, principal: Principal, data: Mapping[str, Any],
    workflow_id: str | None = None, request_id: str | None = None,
) -> tuple[Workflow, Definition]:
    """Creates a workflow, or replaces one's definition with a new version."""
    editor = await editor_for(session=session, user=principal.user)
    require_author(principal, editor)
    definition = definitions.parse(data)
    await _check_teams(session, definition.run_permission.teams)
    await _check_services(session, definition.trigger.services)
    await check_connections(session=session, editor=editor, definition=definition)
    clash = await session.scalar(select(Workflow.id).where(Workflow.name == definition.name))
    if clash is not None and clash != workflow_id:
        raise ConflictError(errors=["name: another workflow has this name"])
    now = utcnow()
    if workflow_id is None:
        workflow = Workflow(current_version=1, created_by_id=principal.user.id, created_at=now)
        session.add(workflow)
    else:
        workflow = await get_workflow(session=session, workflow_id=workflow_id)
        workflow.current_version += 1
    workflow.name, workflow.description = definition.name, definition.description
    workflow.enabled = definition.enabled
    workflow.trigger = definition.trigger.model_dump(mode="json")
    workflow.run_permission = definition.run_permission.type
    workflow.run_team_ids = list(definition.run_permission.teams)
    workflow.updated_by_id, workflow.updated_at = principal.user.id, now
    await session.flush()
    session.add(WorkflowVersion(workflow_id=workflow.id, version=workflow.current_version,
                                definition=definitions.stored(definition),
                                created_by_id=principal.user.id, created_at=now))
    _audit(session, principal, "workflow.save", workflow.id, request_id,
           {"version": workflow.current_version, "name": workflow.name})
    await session.flush()
    return workflow, definition


async def replace_trigger(
    *, session: AsyncSession, principal: Principal, workflow_id: str,
    trigger: Mapping[str, Any], run_teams: list[str] | None = None,
    request_id: str | None = None,
) -> tuple[Workflow, Definition]:
    """Saves the workflow with another trigger (and, when `run_teams` is given, who may run
    it: those teams, or everyone when empty), as a new version like any other save."""
    workflow = await get_workflow(session=session, workflow_id=workflow_id)
    current = await definition_of(session=session, workflow_id=workflow.id,
                                  version=workflow.current_version)
    data = definitions.stored(current)
    data["trigger"] = dict(trigger)
    if run_teams is not None:
        data["run_permission"] = {"type": "teams" if run_teams else "everyone",
                                  "teams": run_teams}
    return await save_workflow(session=session, principal=principal, data=data,
                               workflow_id=workflow.id, request_id=request_id)


async def get_workflow(*, session: AsyncSession, workflow_id: str) -> Workflow:
    workflow = await session.get(Workflow, workflow_id)
    if workflow is None:
        raise NotFoundError("Incident Workflow Not Found")
    return workflow


async def find_by_name(*, session: AsyncSession, name: str) -> Workflow | None:
    return await session.scalar(select(Workflow).where(Workflow.name == name))


async def definition_of(
    *, session: AsyncSession, workflow_id: str, version: int
) -> Definition:
    row = await session.get(WorkflowVersion, (workflow_id, version))
    if row is None:
        raise NotFoundError("Incident Workflow Version Not Found")
    return Definition.model_validate(row.definition)


async def list_workflows(
    *, session: AsyncSession, params: PageParams, query: str | None = None
) -> Page[Workflow]:
    statement = select(Workflow)
    if query:
        statement = statement.where(Workflow.name.ilike(f"%{query}%"))
    return await paginate(session, statement.order_by(Workflow.name, Workflow.id), params)


async def delete_workflow(
    *, session: AsyncSession, principal: Principal, workflow_id: str,
    request_id: str | None = None,
) -> None:
    editor = await editor_for(session=session, user=principal.user)
    require_author(principal, editor)
    workflow = await get_workflow(session=session, workflow_id=workflow_id)
    await session.execute(delete(Workflow).where(Workflow.id == workflow.id))
    _audit(session, principal, "workflow.delete", workflow_id, request_id,
           {"name": workflow.name})


async def may_run(*, session: AsyncSession, principal: Principal, workflow: Workflow) -> bool:
    if workflow.run_permission == "everyone" or principal.is_admin:
        return True
    member = await session.scalar(select(TeamMembership.user_id).where(
        TeamMembership.user_id == principal.user.id,
        TeamMembership.team_id.in_(workflow.run_team_ids)))
    return member is not None


async def start_manual(
    *, session: AsyncSession, principal: Principal, workflow_id: str, incident_id: str
) -> tuple[Run, Incident]:
    incident_access.require_incident_writer(principal)
    workflow = await get_workflow(session=session, workflow_id=workflow_id)
    incident = await incident_access.visible_incident(session=session, principal=principal,
                                                      incident_id=incident_id)
    if not await may_run(session=session, principal=principal, workflow=workflow):
        raise AccessDeniedError("Only members of this workflow's teams may run it")
    if not workflow.enabled:
        raise InvalidInputError(errors=["This workflow is disabled"])
    if not triggers.is_automatic(workflow.trigger) and not triggers.covers(
            workflow.trigger, incident.service_id):
        raise InvalidInputError(errors=[
            "This workflow is started by hand on incidents of its trigger's services only"])
    definition = await definition_of(session=session, workflow_id=workflow.id,
                                     version=workflow.current_version)
    run_id = await runs.create_run(session=session, workflow=workflow, definition=definition,
                                   incident_id=incident.id, started_by_id=principal.user.id)
    assert run_id is not None  # manual runs carry no event id: nothing to collide with
    run = await session.get(Run, run_id)
    assert run is not None
    return run, incident


async def list_runs(
    *, session: AsyncSession, principal: Principal, workflow_id: str, params: PageParams
) -> Page[Run]:
    await get_workflow(session=session, workflow_id=workflow_id)
    statement = select(Run).join(Incident, Incident.id == Run.incident_id).where(
        Run.workflow_id == workflow_id)
    statement = incident_access.restrict_visible(principal, statement)
    return await paginate(session, statement.order_by(Run.created_at.desc(), Run.id), params)


async def get_run(
    *, session: AsyncSession, principal: Principal, run_id: str
) -> tuple[Run, list[RunStep]]:
    run = await session.get(Run, run_id)
    if run is None:
        raise NotFoundError("Incident Workflow Run Not Found")
    await incident_access.visible_incident(session=session, principal=principal,
                                           incident_id=run.incident_id)
    steps = list(await session.scalars(
        select(RunStep).where(RunStep.run_id == run.id).order_by(RunStep.position)))
    return run, steps


async def cancel_run(
    *, session: AsyncSession, principal: Principal, run_id: str, request_id: str | None = None
) -> Run:
    incident_access.require_incident_writer(principal)
    run = await runs.lock_run(session, run_id)
    if run is None:
        raise NotFoundError("Incident Workflow Run Not Found")
    await incident_access.visible_incident(session=session, principal=principal,
                                           incident_id=run.incident_id)
    workflow = await get_workflow(session=session, workflow_id=run.workflow_id)
    await runs.cancel(session=session, run=run, workflow_name=workflow.name)
    audit.record(session, actor_id=principal.user.id, actor=principal.user.email,
                 action="workflow.run.cancel", target_type="workflow_run", target_id=run.id,
                 request_id=request_id)
    return run


async def workflows_using(session: AsyncSession, connection: Connection) -> list[str]:
    """Names of workflows whose current version has a step on `connection` (by id, or as
    its tool's default)."""
    rows = await session.execute(
        select(Workflow.name, WorkflowVersion.definition)
        .join(WorkflowVersion, (WorkflowVersion.workflow_id == Workflow.id)
              & (WorkflowVersion.version == Workflow.current_version))
        .order_by(Workflow.name))
    names = []
    for name, definition in rows:
        for step in definition.get("steps", []):
            tool = str(step.get("action", "")).split(".", 1)[0]
            reference = step.get("connection", "default")
            if tool == connection.integration and (
                reference == connection.id or (reference == "default" and connection.is_default)
            ):
                names.append(name)
                break
    return names


connection_service.USAGE_FINDERS.append(workflows_using)
