"""REST API for incident workflows, in PagerDuty's wrapped shapes:

    GET|POST          /api/incident_workflows
    GET               /api/incident_workflows/triggers
    GET|PUT|DELETE    /api/incident_workflows/{id}
    POST              /api/incident_workflows/{id}/instances     start by hand
    GET               /api/incident_workflows/{id}/runs          run history
    GET               /api/incident_workflow_runs/{run_id}       steps, attempts, timings
    POST              /api/incident_workflow_runs/{run_id}/cancel
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from fireline.accounts.models import User
from fireline.accounts.permissions import CurrentPrincipal, Session
from fireline.core.clock import isoformat
from fireline.core.pagination import Pagination
from fireline.core.redaction import registry as secrets_registry
from fireline.core.resources import reference, resource
from fireline.incidents.models import Incident, Service
from fireline.incidents.shapes import incident_ref
from fireline.workflows import service
from fireline.workflows.definitions import Definition
from fireline.workflows.models import Run, RunStep, Workflow

router = APIRouter(prefix="/api", tags=["incident workflows"])


class WorkflowEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_workflow: Definition

    def data(self) -> dict[str, Any]:
        return self.incident_workflow.model_dump(mode="json", by_alias=True)


class IncidentReference(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=20)
    type: str = "incident_reference"


class Instance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident: IncidentReference


class InstanceEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_workflow_instance: Instance


def _base(request: Request) -> str:
    return str(request.app.state.settings.base_url)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def _users(session: Session, ids: set[str | None]) -> dict[str, User]:
    wanted = {item for item in ids if item}
    if not wanted:
        return {}
    return {u.id: u for u in await session.scalars(select(User).where(User.id.in_(wanted)))}


async def _workflow_body(
    request: Request, session: Session, workflow: Workflow, with_steps: bool = True
) -> dict[str, Any]:
    base = _base(request)
    users = await _users(session, {workflow.created_by_id, workflow.updated_by_id})

    def user(user_id: str | None) -> dict[str, Any] | None:
        found = users.get(user_id or "")
        return reference(base, "user", found.id, found.name) if found else None

    body = resource(
        base, "incident_workflow", workflow.id, workflow.name,
        name=workflow.name, description=workflow.description, is_enabled=workflow.enabled,
        trigger=workflow.trigger,
        run_permission={"type": workflow.run_permission, "teams": workflow.run_team_ids},
        version=workflow.current_version,
        created_at=isoformat(workflow.created_at), updated_at=isoformat(workflow.updated_at),
        created_by=user(workflow.created_by_id), updated_by=user(workflow.updated_by_id),
    )
    if with_steps:
        definition = await service.definition_of(
            session=session, workflow_id=workflow.id, version=workflow.current_version)
        stored = definition.model_dump(mode="json", by_alias=True)
        body["steps"] = stored["steps"]
        body["timeout_seconds"] = stored["timeout_seconds"]
    return body


def _run_body(base: str, run: Run, incident: Incident | None) -> dict[str, Any]:
    return {
        "id": run.id,
        "type": "incident_workflow_run",
        "self": f"{base}/api/incident_workflow_runs/{run.id}",
        "incident_workflow": {"id": run.workflow_id, "type": "incident_workflow_reference",
                              "self": f"{base}/api/incident_workflows/{run.workflow_id}"},
        "version": run.version,
        "incident": incident_ref(base, incident) if incident else {
            "id": run.incident_id, "type": "incident_reference"},
        "status": run.status,
        "trigger_event_id": run.trigger_event_id,
        "started_by": {"id": run.started_by_id, "type": "user_reference"}
        if run.started_by_id else None,
        "created_at": isoformat(run.created_at),
        "started_at": isoformat(run.started_at) if run.started_at else None,
        "finished_at": isoformat(run.finished_at) if run.finished_at else None,
        "deadline": isoformat(run.deadline),
        "error": run.error,
    }


def _step_body(step: RunStep) -> dict[str, Any]:
    return {
        "id": step.step_id,
        "action": step.action,
        "status": step.status,
        "attempts": step.attempt,
        "connection_id": step.connection_id,
        # SEC-1: whatever was stored is scrubbed again on the way out.
        "inputs": secrets_registry.scrub_value(step.inputs),
        "output": secrets_registry.scrub_value(step.output),
        "error": step.error,
        "idempotency_key": step.idempotency_key,
        "next_attempt_at": isoformat(step.next_attempt_at)
        if step.next_attempt_at and step.status == "ready" else None,
        "started_at": isoformat(step.started_at) if step.started_at else None,
        "finished_at": isoformat(step.finished_at) if step.finished_at else None,
        "duration_ms": step.duration_ms,
    }


@router.get("/incident_workflows")
async def list_workflows(
    request: Request, principal: CurrentPrincipal, session: Session, page: Pagination,
    query: str | None = None,
) -> dict[str, Any]:
    found = await service.list_workflows(session=session, params=page, query=query)
    return found.body("incident_workflows", [
        await _workflow_body(request, session, item, with_steps=False) for item in found.items])


@router.post("/incident_workflows", status_code=201)
async def create_workflow(
    body: WorkflowEnvelope, request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    workflow, _ = await service.save_workflow(
        session=session, principal=principal, data=body.data(),
        request_id=_request_id(request))
    await session.commit()
    return {"incident_workflow": await _workflow_body(request, session, workflow)}


@router.get("/incident_workflows/triggers")
async def list_triggers(
    request: Request, principal: CurrentPrincipal, session: Session, page: Pagination,
) -> dict[str, Any]:
    base = _base(request)
    found = await service.list_workflows(session=session, params=page)
    service_ids = {sid for wf in found.items for sid in wf.trigger.get("services", [])}
    services = {s.id: s for s in (await session.scalars(
        select(Service).where(Service.id.in_(service_ids)))).unique()} if service_ids else {}
    items = []
    for workflow in found.items:
        trigger = workflow.trigger
        wanted = trigger.get("services", [])
        items.append({
            "id": workflow.id,
            "type": "workflow_trigger",
            "trigger_type": trigger["type"],
            "workflow": reference(base, "incident_workflow", workflow.id, workflow.name),
            "event_types": trigger.get("on", []),
            "condition": trigger.get("condition"),
            "services": [reference(base, "service", sid, services[sid].name)
                         for sid in wanted if sid in services],
            "is_subscribed_to_all_services": not wanted,
            "permissions": {"restricted": workflow.run_permission == "teams",
                            "team_ids": workflow.run_team_ids},
        })
    return found.body("triggers", items)


@router.get("/incident_workflows/{workflow_id}")
async def get_workflow(
    workflow_id: str, request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    workflow = await service.get_workflow(session=session, workflow_id=workflow_id)
    return {"incident_workflow": await _workflow_body(request, session, workflow)}


@router.put("/incident_workflows/{workflow_id}")
async def replace_workflow(
    workflow_id: str, body: WorkflowEnvelope, request: Request, principal: CurrentPrincipal,
    session: Session,
) -> dict[str, Any]:
    workflow, _ = await service.save_workflow(
        session=session, principal=principal, data=body.data(),
        workflow_id=workflow_id, request_id=_request_id(request))
    await session.commit()
    return {"incident_workflow": await _workflow_body(request, session, workflow)}


@router.delete("/incident_workflows/{workflow_id}", status_code=204)
async def delete_workflow(
    workflow_id: str, request: Request, principal: CurrentPrincipal, session: Session
) -> Response:
    await service.delete_workflow(session=session, principal=principal,
                                  workflow_id=workflow_id, request_id=_request_id(request))
    await session.commit()
    return Response(status_code=204)


@router.post("/incident_workflows/{workflow_id}/instances", status_code=201)
async def start_instance(
    workflow_id: str, body: InstanceEnvelope, request: Request, principal: CurrentPrincipal,
    session: Session,
) -> dict[str, Any]:
    run, incident = await service.start_manual(
        session=session, principal=principal, workflow_id=workflow_id,
        incident_id=body.incident_workflow_instance.incident.id)
    await session.commit()
    base = _base(request)
    return {"incident_workflow_instance": {
        "id": run.id, "type": "incident_workflow_instance",
        "incident": incident_ref(base, incident),
        "run": _run_body(base, run, incident),
    }}


@router.get("/incident_workflows/{workflow_id}/runs")
async def list_runs(
    workflow_id: str, request: Request, principal: CurrentPrincipal, session: Session,
    page: Pagination,
) -> dict[str, Any]:
    found = await service.list_runs(session=session, principal=principal,
                                    workflow_id=workflow_id, params=page)
    base = _base(request)
    return found.body("incident_workflow_runs", [_run_body(base, run, None)
                                                 for run in found.items])


@router.get("/incident_workflow_runs/{run_id}")
async def get_run(
    run_id: str, request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    run, steps = await service.get_run(session=session, principal=principal, run_id=run_id)
    incident = await session.get(Incident, run.incident_id)
    body = _run_body(_base(request), run, incident)
    body["steps"] = [_step_body(step) for step in steps]
    return {"incident_workflow_run": body}


@router.post("/incident_workflow_runs/{run_id}/cancel")
async def cancel_run(
    run_id: str, request: Request, principal: CurrentPrincipal, session: Session
) -> dict[str, Any]:
    run = await service.cancel_run(session=session, principal=principal, run_id=run_id,
                                   request_id=_request_id(request))
    await session.commit()
    return {"incident_workflow_run": _run_body(_base(request), run, None)}



