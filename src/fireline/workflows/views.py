"""REST API for incident workflows, in PagerDuty's wrapped shapes:

    GET|POST          /api/incident_workflows
    /api/incident_workflows/triggers...                          `trigger_views`
    GET               /api/incident_workflows/actions            the action catalog
    GET               /api/incident_workflows/actions/{id}
    GET|PUT|DELETE    /api/incident_workflows/{id}
    POST              /api/incident_workflows/{id}/instances     start by hand
    GET               /api/incident_workflows/{id}/runs          run history
    GET               /api/incident_workflow_runs/{run_id}       steps, attempts, timings
    POST              /api/incident_workflow_runs/{run_id}/cancel

A workflow is read and written in two shapes: ours (the definition format, `definitions`)
and PagerDuty's (`steps[].action_configuration`, `pagerduty_shape`). POST and PUT take
either (PagerDuty's when a step has `action_configuration`) and answer in the shape they
were given; GET answers ours. `?format=pagerduty` (or `fireline`), or a `format` parameter
on the Accept media type (`Accept: application/vnd.pagerduty+json;version=2;format=pagerduty`),
chooses the shape of any answer; the query parameter wins. A body read in our shape can be
PUT back as it is: the read-only fields (`id`, `type`, `self`, `version`, ...) are dropped
and `is_enabled` means `enabled`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from fireline.accounts.models import User
from fireline.accounts.permissions import CurrentPrincipal, Session
from fireline.core.clock import isoformat
from fireline.core.errors import InvalidInputError, NotFoundError, located_messages
from fireline.core.pagination import Pagination
from fireline.core.redaction import registry as secrets_registry
from fireline.core.resources import reference, resource
from fireline.incidents.models import Incident
from fireline.incidents.shapes import incident_ref
from fireline.workflows import catalog, pagerduty_shape, service
from fireline.workflows.definitions import Definition
from fireline.workflows.models import Run, RunStep, Workflow

router = APIRouter(prefix="/api", tags=["incident workflows"])


class WorkflowEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_workflow: Definition

    def data(self) -> dict[str, Any]:
        return self.incident_workflow.model_dump(mode="json", by_alias=True)


Shape = Literal["fireline", "pagerduty"]
FormatQuery = Annotated[Shape | None, Query(alias="format", description=(
    "The shape of the answer: fireline (our definition format) or pagerduty"))]
_ACCEPT_FORMAT = re.compile(r";\s*format\s*=\s*\"?([A-Za-z]+)")
# What our read of a workflow has beside its definition: sent back, they are dropped.
_READ_ONLY = frozenset({"id", "type", "summary", "self", "html_url", "version", "created_at",
                        "updated_at", "created_by", "updated_by"})
ACTIONS_LIMIT = 100


def _asked(request: Request, asked: Shape | None) -> Shape | None:
    """The shape the caller asks answers in, if any: `?format=`, else Accept's `format`."""
    if asked is not None:
        return asked
    match = _ACCEPT_FORMAT.search(request.headers.get("accept", ""))
    if match is None:
        return None
    wanted = match.group(1).lower()
    if wanted not in ("fireline", "pagerduty"):
        raise InvalidInputError(errors=[
            f"Accept: format is fireline or pagerduty, not {match.group(1)!r}"])
    return "pagerduty" if wanted == "pagerduty" else "fireline"


async def _posted(
    body: Mapping[str, Any], session: Session, workflow_id: str | None
) -> tuple[dict[str, Any], Shape]:
    """The definition a POST or PUT body gives, and the shape it was in."""
    inner = body.get("incident_workflow")
    if isinstance(inner, Mapping) and pagerduty_shape.is_pagerduty(inner):
        extra = sorted(set(body) - {"incident_workflow"})
        if extra:
            raise InvalidInputError(errors=[f"{key}: Extra inputs are not permitted"
                                            for key in extra])
        previous = None
        if workflow_id is not None:
            workflow = await service.get_workflow(session=session, workflow_id=workflow_id)
            previous = await service.definition_of(
                session=session, workflow_id=workflow.id, version=workflow.current_version)
        return pagerduty_shape.to_definition(inner, previous=previous), "pagerduty"
    if isinstance(inner, Mapping):
        inner = {key: value for key, value in inner.items() if key not in _READ_ONLY}
        if "is_enabled" in inner and "enabled" not in inner:
            inner["enabled"] = inner.pop("is_enabled")
        body = {**body, "incident_workflow": inner}
    try:
        return WorkflowEnvelope.model_validate(body).data(), "fireline"
    except ValidationError as exc:
        raise InvalidInputError(errors=located_messages(exc, "")) from None


# Documents both shapes in the OpenAPI document; the body is parsed by `_posted`.
WorkflowBody = Annotated[dict[str, Any], Body(description=(
    "`{\"incident_workflow\": <definition>}` in our shape, or PagerDuty's (steps with "
    "`action_configuration`)"))]


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


async def _answer(request: Request, session: Session, workflow: Workflow, shape: Shape,
                  with_steps: bool = True) -> dict[str, Any]:
    if shape == "fireline":
        return await _workflow_body(request, session, workflow, with_steps)
    definition = await service.definition_of(
        session=session, workflow_id=workflow.id, version=workflow.current_version
    ) if with_steps else None
    return pagerduty_shape.workflow_body(_base(request), workflow, definition)


@router.get("/incident_workflows")
async def list_workflows(
    request: Request, principal: CurrentPrincipal, session: Session, page: Pagination,
    shape: FormatQuery = None, query: str | None = None,
    include: Annotated[list[Literal["steps", "team"]], Query(alias="include[]")] = [],  # noqa: B006
) -> dict[str, Any]:
    answer = _asked(request, shape) or "fireline"
    found = await service.list_workflows(session=session, params=page, query=query)
    return found.body("incident_workflows", [
        await _answer(request, session, item, answer, with_steps="steps" in include)
        for item in found.items])


@router.post("/incident_workflows", status_code=201)
async def create_workflow(
    body: WorkflowBody, request: Request, principal: CurrentPrincipal, session: Session,
    shape: FormatQuery = None,
) -> dict[str, Any]:
    asked = _asked(request, shape)
    data, given = await _posted(body, session, None)
    workflow, _ = await service.save_workflow(
        session=session, principal=principal, data=data, request_id=_request_id(request))
    await session.commit()
    return {"incident_workflow": await _answer(request, session, workflow, asked or given)}


def _cursor_after(cursor: str | None) -> str | None:
    """The last action id of the page before (cursors stay right as actions are added)."""
    if not cursor:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(cursor.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidInputError(errors=["cursor: not a cursor this API returned"]) from None
    if not isinstance(after, str):
        raise InvalidInputError(errors=["cursor: not a cursor this API returned"])
    return after


@router.get("/incident_workflows/actions")
async def list_actions(
    request: Request, principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1)] = 25, cursor: str | None = None,
    keyword: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """The action catalog in PagerDuty's shape, by id; `keyword` keeps the actions tagged
    with it (a tag or search keyword, ignoring case)."""
    limit = min(limit, ACTIONS_LIMIT)
    after = _cursor_after(cursor)
    wanted = keyword.casefold() if keyword else None
    found = [action for action in catalog.all_actions()
             if (after is None or action.id > after)
             and (wanted is None or wanted in {word.casefold()
                                               for word in (*action.tags, *action.keywords)})]
    page, more = found[:limit], len(found) > limit
    next_cursor = base64.urlsafe_b64encode(json.dumps({"after": page[-1].id}).encode()).decode() \
        if more else None
    base = _base(request)
    return {"actions": [action.body(base) for action in page], "limit": limit,
            "next_cursor": next_cursor, "more": more}


@router.get("/incident_workflows/actions/{action_id}")
async def get_action(
    action_id: str, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    action = catalog.by_id(action_id)
    if action is None:
        raise NotFoundError("Incident Workflow Action Not Found")
    return {"action": action.body(_base(request))}


@router.get("/incident_workflows/{workflow_id}")
async def get_workflow(
    workflow_id: str, request: Request, principal: CurrentPrincipal, session: Session,
    shape: FormatQuery = None,
) -> dict[str, Any]:
    answer = _asked(request, shape) or "fireline"
    workflow = await service.get_workflow(session=session, workflow_id=workflow_id)
    return {"incident_workflow": await _answer(request, session, workflow, answer)}


@router.put("/incident_workflows/{workflow_id}")
async def replace_workflow(
    workflow_id: str, body: WorkflowBody, request: Request, principal: CurrentPrincipal,
    session: Session, shape: FormatQuery = None,
) -> dict[str, Any]:
    asked = _asked(request, shape)
    data, given = await _posted(body, session, workflow_id)
    workflow, _ = await service.save_workflow(
        session=session, principal=principal, data=data,
        workflow_id=workflow_id, request_id=_request_id(request))
    await session.commit()
    return {"incident_workflow": await _answer(request, session, workflow, asked or given)}


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



