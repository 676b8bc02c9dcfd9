"""The incident workflow editor (see DESIGN.md, the web app): a form that builds the same
definition the API and `fireline workflows apply` take, and a YAML view of that definition.

The form is the whole draft: every change (add, move or delete a step, choose another action)
posts it and the page comes back redrawn from it, so the editor works without JavaScript, and
htmx only swaps the form in place. Saving goes through `service.save_workflow` like the API,
and its messages ("steps.<id>.with.query: ...") are put beside the step field they name. The
connection picker offers only the connections this user may select (ACL-1), from the same rule
`service.check_connections` enforces on save.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from fireline.accounts.models import Team
from fireline.accounts.permissions import Principal, Session
from fireline.core.errors import AccessDeniedError, ApiError, InvalidInputError
from fireline.incidents.models import Service
from fireline.integrations import registry
from fireline.web.fields import Field, fields_of
from fireline.web.frame import CurrentViewer, Viewer, is_htmx, redirect, render, start_over
from fireline.workflows import definitions, service, templates
from fireline.workflows.builtins import BUILTINS
from fireline.workflows.definitions import Definition
from fireline.workflows.triggers import (
    EVENT_KINDS,
    ConditionalTrigger,
    ManualTrigger,
    Trigger,
)

router = APIRouter(include_in_schema=False)

EVENT_LABELS = {
    "incident.triggered": "An incident is triggered",
    "incident.acknowledged": "An incident is acknowledged",
    "incident.resolved": "An incident is resolved",
    "incident.priority_changed": "An incident's priority changes",
    "incident.urgency_changed": "An incident's urgency changes",
    "incident.title_changed": "An incident's title changes",
    "incident.reassigned": "An incident is reassigned",
    "incident.responders_added": "Responders are added",
    "incident.note_added": "A note is added",
}
_JSON_TYPES = {"integer", "number", "boolean", "array", "object"}
# "incident_workflow.steps.0.id: ..." (pydantic, by index) or "steps.search.with.query: ..."
# (the checks after it, by step id).
_STEP_MESSAGE = re.compile(
    r"^(?:incident_workflow\.)?steps\.(?P<step>[^.:]+)(?:\.(?P<where>[^:]+))?: (?P<msg>.*)$", re.S)
_TOP_MESSAGE = re.compile(r"^incident_workflow\.(?P<where>[a-z_]+)[^:]*: (?P<msg>.*)$", re.S)
_STEP_PLACES = {"id": "id", "action": "action", "connection": "connection", "needs": "needs",
                "timeout_seconds": "timeout", "retry": "attempts"}


@dataclass
class StepDraft:
    id: str = ""
    action: str = ""
    connection: str = "default"
    inputs: dict[str, str] = field(default_factory=dict)  # as typed
    after: str = ""  # step ids, comma-separated; empty: the step before
    parallel: bool = False  # `needs: []`: starts at once
    attempts: str = "3"
    timeout: str = "60"
    errors: dict[str, str] = field(default_factory=dict)  # "" for the step as a whole


@dataclass
class Draft:
    name: str = ""
    description: str = ""
    enabled: bool = True
    trigger_type: str = "manual"
    on: list[str] = field(default_factory=lambda: ["incident.triggered"])
    condition: str = ""
    services: list[str] = field(default_factory=list)
    run_type: str = "everyone"
    run_teams: list[str] = field(default_factory=list)
    timeout: str = "3600"
    steps: list[StepDraft] = field(default_factory=lambda: [StepDraft(id="step_1")])
    errors: dict[str, str] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)  # messages that name no field


def _form_holds(trigger: Trigger) -> bool:
    if isinstance(trigger, ManualTrigger):
        return not trigger.services
    return isinstance(trigger, ConditionalTrigger) and trigger.on is not None


def draft_of(definition: Definition) -> Draft:
    trigger = definition.trigger
    conditional = trigger.type == "conditional"
    return Draft(
        name=definition.name, description=definition.description, enabled=definition.enabled,
        trigger_type=trigger.type,
        on=list(getattr(trigger, "on", None) or []) if conditional else ["incident.triggered"],
        condition=getattr(trigger, "condition", None) or "",
        services=list(getattr(trigger, "services", [])),
        run_type=definition.run_permission.type, run_teams=list(definition.run_permission.teams),
        timeout=str(definition.timeout_seconds),
        steps=[StepDraft(
            id=step.id, action=step.action, connection=step.connection,
            inputs={name: value if isinstance(value, str) else json.dumps(value)
                    for name, value in step.with_.items()},
            after=", ".join(step.needs or []), parallel=step.needs == [],
            attempts=str(step.retry.max_attempts), timeout=str(step.timeout_seconds),
        ) for step in definition.steps],
    )


def draft_from(form: FormData) -> Draft:
    count = 1 + max((int(match[1]) for key in form
                     if (match := re.match(r"^steps\.(\d+)\.id$", key))), default=-1)
    steps = []
    for index in range(min(count, 100)):
        prefix = f"steps.{index}."
        steps.append(StepDraft(
            id=str(form.get(prefix + "id", "")).strip(),
            action=str(form.get(prefix + "action", "")),
            connection=str(form.get(prefix + "connection", "default")) or "default",
            inputs={key.removeprefix(prefix + "with."): str(value)
                    for key, value in form.multi_items() if key.startswith(prefix + "with.")},
            after=str(form.get(prefix + "after", "")),
            parallel=form.get(prefix + "parallel") == "on",
            attempts=str(form.get(prefix + "attempts", "3")),
            timeout=str(form.get(prefix + "timeout", "60"))))
    return Draft(
        name=str(form.get("name", "")).strip(), description=str(form.get("description", "")),
        enabled=form.get("enabled") == "on",
        trigger_type=str(form.get("trigger_type", "manual")),
        on=[str(value) for value in form.getlist("trigger_on")],
        condition=str(form.get("condition", "")),
        services=[str(value) for value in form.getlist("trigger_services")],
        run_type=str(form.get("run_type", "everyone")),
        run_teams=[str(value) for value in form.getlist("run_teams")],
        timeout=str(form.get("timeout_seconds", "3600")), steps=steps)


def _number(text: str) -> int | str:
    """A number field as typed: an int when it is one, else the text for validation to
    refuse beside its field."""
    return int(text) if text.strip().lstrip("-").isdigit() else text


def _input_value(spec: definitions.ActionSpec | None, name: str, text: str) -> Any:
    """What a typed input means: a template or a string as typed; JSON for the input types
    a form cannot hold as text (numbers, lists, objects)."""
    schema = spec.input.model_json_schema()["properties"].get(name, {}) if spec else {}
    kinds = {schema.get("type")} | {option.get("type") for option in schema.get("anyOf", ())}
    if templates.is_templated(text) or not kinds & _JSON_TYPES:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def definition_data(draft: Draft) -> dict[str, Any]:
    """The draft as the definition the API takes."""
    steps = []
    for step in draft.steps:
        spec = definitions.find_action(step.action)
        item: dict[str, Any] = {
            "id": step.id, "action": step.action,
            "with": {name: _input_value(spec, name, text) for name, text in step.inputs.items()
                     if text.strip() != ""},
            "timeout_seconds": _number(step.timeout),
            "retry": {"max_attempts": _number(step.attempts)}}
        if spec is None or not spec.builtin:
            item["connection"] = step.connection
        if step.parallel:
            item["needs"] = []
        elif step.after.strip():
            item["needs"] = [need.strip() for need in step.after.split(",") if need.strip()]
        steps.append(item)
    trigger: dict[str, Any] = {"type": draft.trigger_type}
    if draft.trigger_type == "conditional":
        trigger |= {"on": draft.on, "services": draft.services}
        if draft.condition.strip():
            trigger["condition"] = draft.condition
    return {"name": draft.name, "description": draft.description, "enabled": draft.enabled,
            "trigger": trigger,
            "run_permission": {"type": draft.run_type,
                               "teams": draft.run_teams if draft.run_type == "teams" else []},
            "timeout_seconds": _number(draft.timeout), "steps": steps}


def place(draft: Draft, error: ApiError) -> None:
    """Each message beside the step field (or workflow field) it names."""
    by_id = {step.id: step for step in draft.steps}
    for message in error.errors or [error.message]:
        step_match, top_match = _STEP_MESSAGE.match(message), _TOP_MESSAGE.match(message)
        if step_match:
            name = step_match["step"]
            step = (draft.steps[int(name)] if name.isdigit() and int(name) < len(draft.steps)
                    else by_id.get(name))
            if step is not None:
                where = step_match["where"] or ""
                key = where if where.startswith("with.") else _STEP_PLACES.get(
                    where.split(".")[0], "")
                if key.startswith("with."):
                    key = "with." + key.split(".")[1]
                step.errors.setdefault(key, step_match["msg"])
                continue
        if top_match and top_match["where"] in {"name", "description", "timeout_seconds",
                                                "trigger", "run_permission"}:
            draft.errors.setdefault(top_match["where"], top_match["msg"])
            continue
        draft.summary.append(message.removeprefix("incident_workflow: "))


# --- what the form offers ---------------------------------------------------------------------

@dataclass(frozen=True)
class StepView:
    index: int
    draft: StepDraft
    spec: definitions.ActionSpec | None
    inputs: list[Field]
    connections: list[tuple[str, str]] | None  # None: a built-in action takes none
    tool_title: str | None


def action_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The catalog for the action picker: Fireline's own actions, then each tool's."""
    groups = [("Fireline", [(f"{definitions.BUILTIN_PREFIX}.{name}", builtin.title)
                            for name, builtin in BUILTINS.items()
                            # Blocks hold steps: the YAML view writes them.
                            if name not in ("noop", "condition", "loop_until")])]
    for integration in registry.INTEGRATIONS:
        groups.append((integration.title, [(f"{integration.slug}.{action.name}", action.title)
                                           for action in integration.actions]))
    return groups


async def _step_view(session: AsyncSession, editor: service.Editor, index: int,
                     step: StepDraft) -> StepView:
    spec = definitions.find_action(step.action)
    inputs: list[Field] = []
    connections = None
    title = None
    if spec is not None:
        inputs = fields_of(spec.input, f"steps.{index}.with", values=step.inputs)
        for item in inputs:
            if item.kind == "number":
                item.kind = "text"  # a template is allowed where a number goes
            item.error = step.errors.get(f"with.{item.name}")
        if spec.integration is not None:
            tool = registry.get(spec.integration)
            title = tool.title if tool else spec.integration
            connections = [(c.id, c.name) for c in await service.selectable_connections(
                session=session, editor=editor, integration=spec.integration)]
            if step.connection != "default" and step.connection not in dict(connections):
                # Kept as the draft names it, so saving is refused on this step rather than
                # the step quietly moving to the default connection.
                connections.append((step.connection,
                                    f"{step.connection} (not a connection you may select)"))
    return StepView(index, step, spec, inputs, connections, title)


async def _render(request: Request, viewer: Viewer, session: AsyncSession, draft: Draft, *,
                  workflow_id: str | None, status_code: int = 200) -> HTMLResponse:
    editor = await service.editor_for(session=session, user=viewer.user)
    steps = [await _step_view(session, editor, index, step)
             for index, step in enumerate(draft.steps)]
    teams = list(await session.execute(select(Team.id, Team.name).order_by(Team.name)))
    services = list(await session.execute(select(Service.id, Service.name)
                                          .order_by(Service.name)))
    template = "workflows/_editor.html" if is_htmx(request) else "workflows/editor.html"
    return render(request, template, status_code, viewer=viewer, draft=draft, steps=steps,
                  workflow_id=workflow_id, actions=action_choices(), events=EVENT_KINDS,
                  event_labels=EVENT_LABELS, teams=teams, services=services,
                  action=f"/incident_workflows/{workflow_id}/edit" if workflow_id
                  else "/incident_workflows/new")


async def may_author(session: AsyncSession, principal: Principal) -> bool:
    """Whether the API would let `principal` save workflows (for the Edit and New buttons)."""
    try:
        await _author(session, principal)
    except AccessDeniedError:
        return False
    return True


async def _author(session: AsyncSession, principal: Principal) -> None:
    service.require_author(principal, await service.editor_for(session=session,
                                                               user=principal.user))


def _edit(draft: Draft, op: str) -> None:
    """A change to the draft's steps that is not a save."""
    verb, _, at = op.partition(".")
    index = int(at) if at.isdigit() and int(at) < len(draft.steps) else None
    if verb == "add":
        taken = {step.id for step in draft.steps}
        number = next(n for n in range(len(taken) + 1, len(taken) + 200)
                      if f"step_{n}" not in taken)
        draft.steps.append(StepDraft(id=f"step_{number}"))
    elif index is not None and verb == "delete" and len(draft.steps) > 1:
        del draft.steps[index]
    elif index is not None and verb in {"up", "down"}:
        other = index - 1 if verb == "up" else index + 1
        if 0 <= other < len(draft.steps):
            draft.steps[index], draft.steps[other] = draft.steps[other], draft.steps[index]


async def _submit(request: Request, viewer: Viewer, session: AsyncSession,
                  workflow_id: str | None) -> Response:
    await _author(session, viewer.principal)
    form = await request.form()
    draft = draft_from(form)
    op = str(form.get("op", "save"))
    if op != "save":
        _edit(draft, op)
        return await _render(request, viewer, session, draft, workflow_id=workflow_id)
    try:
        workflow, _ = await service.save_workflow(
            session=session, principal=viewer.principal, data=definition_data(draft),
            workflow_id=workflow_id, request_id=getattr(request.state, "request_id", None))
    except ApiError as exc:  # invalid, a connection not to be used, a name taken
        if exc.status_code >= 500:
            raise
        await start_over(session, viewer)
        place(draft, exc)
        return await _render(request, viewer, session, draft, workflow_id=workflow_id,
                             status_code=400)
    await session.commit()
    return redirect(request, f"/incident_workflows/{workflow.id}",
                    flash=f"Saved “{workflow.name}” (version {workflow.current_version})")


@router.get("/incident_workflows/new")
async def new_workflow(request: Request, viewer: CurrentViewer, session: Session) -> Response:
    await _author(session, viewer.principal)
    return await _render(request, viewer, session, Draft(), workflow_id=None)


@router.post("/incident_workflows/new")
async def create_workflow(request: Request, viewer: CurrentViewer,
                          session: Session) -> Response:
    return await _submit(request, viewer, session, None)


@router.get("/incident_workflows/{workflow_id}/edit")
async def edit_workflow(workflow_id: str, request: Request, viewer: CurrentViewer,
                        session: Session) -> Response:
    await _author(session, viewer.principal)
    workflow = await service.get_workflow(session=session, workflow_id=workflow_id)
    definition = await service.definition_of(session=session, workflow_id=workflow.id,
                                             version=workflow.current_version)
    if len(definition.all_steps) > len(definition.steps):
        # The form holds a flat list of steps: saving it would drop the blocks' steps.
        return redirect(request, f"/incident_workflows/{workflow.id}/yaml", kind="info",
                        flash="This workflow has condition or loop blocks: edit it as YAML")
    if not _form_holds(definition.trigger):
        # The form offers a manual trigger and a conditional one on events: saving it would
        # turn any other trigger into one of those.
        return redirect(request, f"/incident_workflows/{workflow.id}/yaml", kind="info",
                        flash="This workflow's trigger is edited as YAML")
    return await _render(request, viewer, session, draft_of(definition), workflow_id=workflow.id)


@router.post("/incident_workflows/{workflow_id}/edit")
async def save_edited(workflow_id: str, request: Request, viewer: CurrentViewer,
                      session: Session) -> Response:
    await service.get_workflow(session=session, workflow_id=workflow_id)
    return await _submit(request, viewer, session, workflow_id)


@router.post("/incident_workflows/condition")
async def check_condition(request: Request, viewer: CurrentViewer) -> HTMLResponse:
    """The trigger's condition checked as it is typed: the message (or nothing) for its
    error slot."""
    condition = str((await request.form()).get("condition", ""))
    problem = None
    if condition.strip():
        try:
            templates.compile_condition(condition)
        except templates.TemplateFailure as exc:
            problem = f"condition does not parse: {exc}"
    return render(request, "workflows/_condition_error.html", viewer=viewer, problem=problem)


# --- the YAML view ---------------------------------------------------------------------------

@router.get("/incident_workflows/{workflow_id}/yaml")
async def yaml_view(workflow_id: str, request: Request, viewer: CurrentViewer,
                    session: Session) -> Response:
    workflow = await service.get_workflow(session=session, workflow_id=workflow_id)
    definition = await service.definition_of(session=session, workflow_id=workflow.id,
                                             version=workflow.current_version)
    return render(request, "workflows/yaml.html", viewer=viewer, workflow=workflow,
                  text=definitions.dump_text(definitions.stored(definition)), problems=[])


@router.post("/incident_workflows/{workflow_id}/yaml")
async def save_yaml(workflow_id: str, request: Request, viewer: CurrentViewer,
                    session: Session) -> Response:
    workflow = await service.get_workflow(session=session, workflow_id=workflow_id)
    text = str((await request.form()).get("definition", ""))
    try:
        saved, _ = await service.save_workflow(
            session=session, principal=viewer.principal, data=definitions.load_text(text),
            workflow_id=workflow.id, request_id=getattr(request.state, "request_id", None))
    except (InvalidInputError, AccessDeniedError) as exc:
        if isinstance(exc, AccessDeniedError) and not exc.errors:
            raise  # not allowed to change workflows at all: the 403 page
        await start_over(session, viewer)
        workflow = await service.get_workflow(session=session, workflow_id=workflow_id)
        return render(request, "workflows/yaml.html", 400, viewer=viewer, workflow=workflow,
                      text=text, problems=exc.errors or [exc.message])
    await session.commit()
    return redirect(request, f"/incident_workflows/{saved.id}",
                    flash=f"Saved “{saved.name}” (version {saved.current_version})")
