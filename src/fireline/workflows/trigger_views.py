"""REST API v2: incident workflow triggers as their own resource, in PagerDuty's shape.

    GET|POST          /api/incident_workflows/triggers
    GET|PUT|DELETE    /api/incident_workflows/triggers/{id}
    POST              /api/incident_workflows/triggers/{id}/services       {"service": {id}}
    DELETE            /api/incident_workflows/triggers/{id}/services/{service_id}

A Fireline workflow has one trigger, kept in its definition (`workflows.triggers`); here it
has the workflow's id. A new workflow's trigger is the default one (manual, every service,
anyone may run it): POSTing a trigger for that workflow replaces it, and POSTing one for a
workflow whose trigger is already set is a conflict (PUT replaces it). DELETE puts the
default back. Every change saves a new version of the workflow, with the same checks and
audit as any save. `trigger_url` is where a manual trigger is started: the workflow's
`instances` route.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select

from fireline.accounts.permissions import CurrentPrincipal, Session
from fireline.core.clock import isoformat
from fireline.core.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    located_messages,
)
from fireline.core.pagination import Pagination
from fireline.core.resources import api_url, reference, resource
from fireline.incidents.models import Incident, Service
from fireline.workflows import service, triggers
from fireline.workflows.models import Workflow

router = APIRouter(prefix="/api", tags=["incident_workflows"])

_TRIGGERS = "/incident_workflows/triggers"


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trigger: dict[str, Any]


class _ServiceEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: triggers.PdReference


def _base(request: Request) -> str:
    return str(request.app.state.settings.base_url)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _parsed(body: _Envelope) -> triggers.PdTrigger:
    try:
        return triggers.PdTrigger.model_validate(body.trigger)
    except ValidationError as exc:
        raise InvalidInputError(errors=located_messages(exc, "trigger")) from None


async def _services(session: Session, ids: set[str]) -> dict[str, Service]:
    if not ids:
        return {}
    found = await session.scalars(select(Service).where(Service.id.in_(ids)))
    return {item.id: item for item in found.unique()}


async def _bodies(request: Request, session: Session, workflows: list[Workflow]
                  ) -> list[dict[str, Any]]:
    base = _base(request)
    services = await _services(
        session, {sid for item in workflows for sid in item.trigger.get("services", [])})
    bodies = []
    for workflow in workflows:
        trigger = workflow.trigger
        listed = trigger.get("services") or []
        permissions: dict[str, Any] = {"restricted": workflow.run_permission == "teams"}
        if workflow.run_permission == "teams" and workflow.run_team_ids:
            permissions["team_id"] = workflow.run_team_ids[0]
            permissions["team_ids"] = list(workflow.run_team_ids)
        body = resource(
            base, "incident_workflow", workflow.id, workflow.name,
            **triggers.pagerduty_fields(trigger),
            workflow_id=workflow.id, workflow_name=workflow.name,
            workflow=resource(base, "incident_workflow", workflow.id, workflow.name,
                              name=workflow.name, description=workflow.description,
                              created_at=isoformat(workflow.created_at)),
            services=[reference(base, "service", sid, services[sid].name) | {"type": "service"}
                      for sid in listed if sid in services],
            is_subscribed_to_all_services=not listed,
            permissions=permissions, is_disabled=not workflow.enabled)
        body |= {"type": "workflow_trigger",
                 "self": f"{base}/api{_TRIGGERS}/{workflow.id}",
                 "trigger_url": api_url(base, "incident_workflow", workflow.id) + "/instances",
                 "html_url": None}
        bodies.append(body)
    return bodies


async def _body(request: Request, session: Session, workflow: Workflow) -> dict[str, Any]:
    return {"trigger": (await _bodies(request, session, [workflow]))[0]}


@router.get(_TRIGGERS)
async def list_triggers(
    request: Request, principal: CurrentPrincipal, session: Session, page: Pagination,
    workflow_id: str | None = None, incident_id: str | None = None,
    service_id: str | None = None,
    trigger_type: Literal["conditional", "manual", "incident_type"] | None = None,
    workflow_name_contains: Annotated[str | None, Query(max_length=255)] = None,
    is_disabled: bool | None = None,
) -> dict[str, Any]:
    """Each workflow's trigger; the filters are PagerDuty's. `incident_id` and `service_id`
    keep the triggers that cover that incident's (or that) service."""
    if incident_id is not None:
        incident = await session.get(Incident, incident_id)
        service_id = incident.service_id if incident else "-"
    found = await service.list_workflows(session=session, params=page,
                                         query=workflow_name_contains)
    chosen = [item for item in found.items
              if (workflow_id is None or item.id == workflow_id)
              and (trigger_type is None or item.trigger.get("type") == trigger_type)
              and (is_disabled is None or item.enabled is not is_disabled)
              and (service_id is None or triggers.covers(item.trigger, service_id))]
    return found.body("triggers", await _bodies(request, session, chosen))


@router.post(_TRIGGERS, status_code=201)
async def create_trigger(
    body: _Envelope, request: Request, principal: CurrentPrincipal, session: Session,
) -> dict[str, Any]:
    wanted = _parsed(body)
    if wanted.workflow is None:
        raise InvalidInputError(errors=["trigger.workflow: the workflow's id is required"])
    workflow = await service.get_workflow(session=session, workflow_id=wanted.workflow.id)
    if not (triggers.is_default(workflow.trigger) and workflow.run_permission == "everyone"):
        raise ConflictError(errors=[
            f"workflow {workflow.id} has a trigger already (trigger {workflow.id}): a "
            "Fireline workflow has one; PUT it to change it, or DELETE it first"])
    workflow, _ = await service.replace_trigger(
        session=session, principal=principal, workflow_id=workflow.id, trigger=wanted.ours(),
        run_teams=wanted.run_teams(), request_id=_request_id(request))
    await session.commit()
    return await _body(request, session, workflow)


@router.get(_TRIGGERS + "/{trigger_id}")
async def get_trigger(
    trigger_id: str, request: Request, principal: CurrentPrincipal, session: Session,
) -> dict[str, Any]:
    return await _body(request, session, await _trigger(session, trigger_id))


@router.put(_TRIGGERS + "/{trigger_id}")
async def replace_trigger(
    trigger_id: str, body: _Envelope, request: Request, principal: CurrentPrincipal,
    session: Session,
) -> dict[str, Any]:
    wanted = _parsed(body)
    workflow = await _trigger(session, trigger_id)
    if wanted.workflow is not None and wanted.workflow.id != workflow.id:
        raise InvalidInputError(errors=["trigger.workflow: a trigger stays with its workflow"])
    workflow, _ = await service.replace_trigger(
        session=session, principal=principal, workflow_id=workflow.id, trigger=wanted.ours(),
        run_teams=wanted.run_teams() if wanted.trigger_type == "manual" else [],
        request_id=_request_id(request))
    await session.commit()
    return await _body(request, session, workflow)


@router.delete(_TRIGGERS + "/{trigger_id}", status_code=204)
async def delete_trigger(
    trigger_id: str, request: Request, principal: CurrentPrincipal, session: Session,
) -> None:
    workflow = await _trigger(session, trigger_id)
    await service.replace_trigger(
        session=session, principal=principal, workflow_id=workflow.id,
        trigger=triggers.default().model_dump(mode="json"), run_teams=[],
        request_id=_request_id(request))
    await session.commit()


@router.post(_TRIGGERS + "/{trigger_id}/services")
async def add_service(
    trigger_id: str, body: _ServiceEnvelope, request: Request, principal: CurrentPrincipal,
    session: Session,
) -> dict[str, Any]:
    workflow = await _trigger(session, trigger_id)
    listed = list(workflow.trigger.get("services") or [])
    if body.service.id not in listed:
        workflow = await _with_services(request, session, principal, workflow,
                                        [*listed, body.service.id])
    return await _body(request, session, workflow)


@router.delete(_TRIGGERS + "/{trigger_id}/services/{service_id}")
async def remove_service(
    trigger_id: str, service_id: str, request: Request, principal: CurrentPrincipal,
    session: Session,
) -> dict[str, Any]:
    workflow = await _trigger(session, trigger_id)
    listed = list(workflow.trigger.get("services") or [])
    if service_id not in listed:
        raise InvalidInputError(errors=[f"service {service_id} is not one of the trigger's"])
    if listed == [service_id]:
        # None left would mean every service: the opposite of removing one.
        raise InvalidInputError(errors=[
            "the trigger's last service: subscribe it to all services with PUT instead"])
    workflow = await _with_services(request, session, principal, workflow,
                                    [sid for sid in listed if sid != service_id])
    return await _body(request, session, workflow)


async def _trigger(session: Session, trigger_id: str) -> Workflow:
    workflow = await session.get(Workflow, trigger_id)
    if workflow is None:
        raise NotFoundError("Incident Workflow Trigger Not Found")
    return workflow


async def _with_services(request: Request, session: Session, principal: CurrentPrincipal,
                         workflow: Workflow, services: list[str]) -> Workflow:
    workflow, _ = await service.replace_trigger(
        session=session, principal=principal, workflow_id=workflow.id,
        trigger={**workflow.trigger, "services": services}, request_id=_request_id(request))
    await session.commit()
    return workflow
