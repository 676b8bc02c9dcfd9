"""Pages of the workflows domain (see DESIGN.md, the web app): the incident workflow list,
a workflow with its trigger, steps and runs, a run with its steps (live while it goes on, and
cancellable), and "Run a workflow" on an incident.

Everything goes through `workflows.service` as the REST views do: every signed-in user reads
workflows, runs on incidents a restricted user cannot see are left out (`service.list_runs`),
and starting or cancelling a run takes the same rights as the API's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.permissions import Principal, Session
from fireline.core.errors import InvalidInputError
from fireline.core.pagination import PageParams, Pagination
from fireline.core.redaction import registry as secrets_registry
from fireline.incidents import access, catalog
from fireline.incidents.models import Incident
from fireline.integrations import registry
from fireline.web.frame import CurrentViewer, is_htmx, permits, redirect, render
from fireline.web.workflow_editor import may_author
from fireline.workflows import definitions, service
from fireline.workflows.definitions import Step
from fireline.workflows.models import RUN_TERMINAL, Run, RunStep, Workflow

router = APIRouter(include_in_schema=False)

RUN_TONES = {"succeeded": "healthy", "failed": "unhealthy", "needs_attention": "unhealthy",
             "skipped": "unknown", "cancelled": "unknown", "not_taken": "unknown"}
RECENT_RUNS = 10
# A step's inputs and output are shown up to this size; the API has them whole.
SHOWN_JSON_CHARS = 4000
# How often an unfinished run's page asks for its news.
RUN_POLL_SECONDS = 2


@dataclass(frozen=True)
class StepRow:
    id: str
    action: str
    connection: str
    needs: list[str]
    inside: str = ""  # the blocks it is in: "check: then"


@dataclass(frozen=True)
class RunRow:
    run: Run
    incident_label: str | None  # None: the incident is gone


def trigger_label(workflow: Workflow) -> str:
    if workflow.trigger.get("type") == "conditional":
        return "When " + ", ".join(workflow.trigger.get("on", []))
    return "Manual"


def step_row(step: Step, needs: list[str], inside: str = "") -> StepRow:
    """How a step's connection reads: built-in actions need none; `default` is the tool's."""
    spec = definitions.find_action(step.action)
    if spec is None or spec.integration is None:
        connection = "none needed"
    else:
        tool = registry.get(spec.integration)
        title = tool.title if tool else spec.integration
        connection = (f"{title}: the default connection" if step.connection == "default"
                      else f"{title}: {step.connection}")
    return StepRow(step.id, step.action, connection, needs, inside)


def step_rows(definition: definitions.Definition) -> list[StepRow]:
    """Every step, nested ones included, each saying which blocks it is in."""
    return [step_row(step, definition.needs_of(step), " \u203a ".join(
        f"{block}: {branch}" for block, branch in definition.scope_of(step.id)))
        for step in definition.all_steps]


async def run_rows(session: AsyncSession, runs: list[Run]) -> list[RunRow]:
    ids = {run.incident_id for run in runs}
    labels = {
        id_: f"#{number} {title}" for id_, number, title in await session.execute(
            select(Incident.id, Incident.incident_number, Incident.title)
            .where(Incident.id.in_(ids)))
    } if ids else {}
    return [RunRow(run, labels.get(run.incident_id)) for run in runs]


@dataclass(frozen=True)
class RunStepRow:
    step: RunStep
    inputs: str | None
    output: str | None


def shown_json(value: Any) -> str | None:
    """A step's inputs or output as the page shows them: scrubbed of every secret the
    process knows (SEC-1, as the API's run body), indented, and cut to a readable size."""
    if value is None:
        return None
    text = json.dumps(secrets_registry.scrub_value(value), indent=2, ensure_ascii=False,
                      default=str)
    if len(text) > SHOWN_JSON_CHARS:
        text = f"{text[:SHOWN_JSON_CHARS]}\n… ({len(text) - SHOWN_JSON_CHARS:,} more characters)"
    return text


async def last_runs(session: AsyncSession, principal: Principal,
                    workflow_ids: list[str]) -> dict[str, Run]:
    """Each workflow's newest run this user may see, for the list's "Last run" column."""
    if not workflow_ids:
        return {}

    def visible(statement: Any) -> Any:
        return access.restrict_visible(principal, statement.join(
            Incident, Incident.id == Run.incident_id))

    newest_at = visible(select(Run.workflow_id, func.max(Run.created_at).label("at"))).where(
        Run.workflow_id.in_(workflow_ids)).group_by(Run.workflow_id).subquery()
    statement = visible(select(Run)).join(newest_at, and_(
        Run.workflow_id == newest_at.c.workflow_id, Run.created_at == newest_at.c.at))
    newest: dict[str, Run] = {}
    for run in await session.scalars(statement.order_by(Run.id)):
        newest.setdefault(run.workflow_id, run)  # two runs made in the same instant: one
    return newest


@router.get("/incident_workflows")
async def workflow_list(
    request: Request, viewer: CurrentViewer, session: Session, page: Pagination
) -> Response:
    found = await service.list_workflows(session=session, params=page)

    def at_offset(offset: int) -> str:
        return f"/incident_workflows?offset={offset}&limit={page.limit}"

    return render(
        request, "workflows/list.html", viewer=viewer, tones=RUN_TONES,
        may_edit=await may_author(session, viewer.principal),
        workflows=[(item, trigger_label(item)) for item in found.items],
        last_runs=await last_runs(session, viewer.principal, [w.id for w in found.items]),
        previous_url=at_offset(max(page.offset - page.limit, 0)) if page.offset else None,
        next_url=at_offset(page.offset + page.limit) if found.more else None,
    )


@router.get("/incident_workflows/{workflow_id}")
async def workflow_page(
    workflow_id: str, request: Request, viewer: CurrentViewer, session: Session
) -> Response:
    workflow = await service.get_workflow(session=session, workflow_id=workflow_id)
    definition = await service.definition_of(
        session=session, workflow_id=workflow.id, version=workflow.current_version)
    runs = await service.list_runs(session=session, principal=viewer.principal,
                                   workflow_id=workflow.id, params=PageParams(limit=RECENT_RUNS))
    trigger: dict[str, Any] = workflow.trigger
    services = await catalog.services_by_id(session=session, ids=trigger.get("services", []))
    return render(
        request, "workflows/detail.html", viewer=viewer, workflow=workflow,
        may_edit=await may_author(session, viewer.principal),
        trigger=trigger, trigger_label=trigger_label(workflow),
        trigger_services=list(services.values()), timeout_seconds=definition.timeout_seconds,
        steps=step_rows(definition),
        runs=await run_rows(session, runs.items), more_runs=runs.more, tones=RUN_TONES,
    )


@router.get("/incident_workflows/{workflow_id}/runs")
async def run_history(
    workflow_id: str, request: Request, viewer: CurrentViewer, session: Session,
    page: Pagination,
) -> Response:
    workflow = await service.get_workflow(session=session, workflow_id=workflow_id)
    found = await service.list_runs(session=session, principal=viewer.principal,
                                    workflow_id=workflow.id, params=page)

    def at_offset(offset: int) -> str:
        return f"/incident_workflows/{workflow.id}/runs?offset={offset}&limit={page.limit}"

    return render(
        request, "workflows/runs.html", viewer=viewer, workflow=workflow, tones=RUN_TONES,
        runs=await run_rows(session, found.items),
        newer_url=at_offset(max(page.offset - page.limit, 0)) if page.offset else None,
        older_url=at_offset(page.offset + page.limit) if found.more else None,
    )


@router.get("/incident_workflow_runs/{run_id}")
async def run_page(
    run_id: str, request: Request, viewer: CurrentViewer, session: Session
) -> Response:
    """A run and its steps. While it goes on, the page asks for its own news every
    RUN_POLL_SECONDS (htmx gets only the part that changes)."""
    run, steps = await service.get_run(session=session, principal=viewer.principal,
                                       run_id=run_id)
    workflow = await session.get(Workflow, run.workflow_id)
    incident = await session.get(Incident, run.incident_id)
    finished = run.status in RUN_TERMINAL
    template = "workflows/_run.html" if is_htmx(request) else "workflows/run.html"
    return render(
        request, template, viewer=viewer, run=run, workflow=workflow, incident=incident,
        tones=RUN_TONES, finished=finished, poll_seconds=RUN_POLL_SECONDS,
        steps=[RunStepRow(step, shown_json(step.inputs), shown_json(step.output))
               for step in steps],
        may_cancel=not finished and permits(access.require_incident_writer, viewer.principal),
    )


@router.post("/incident_workflow_runs/{run_id}/cancel")
async def cancel_run(
    run_id: str, request: Request, viewer: CurrentViewer, session: Session
) -> Response:
    run = await service.cancel_run(session=session, principal=viewer.principal, run_id=run_id,
                                   request_id=getattr(request.state, "request_id", None))
    await session.commit()
    return redirect(request, f"/incident_workflow_runs/{run.id}", flash="Run cancelled")


async def startable(session: AsyncSession, principal: Principal) -> list[Workflow]:
    """The manual, enabled workflows this user may start, by name."""
    found = await session.scalars(select(Workflow).where(Workflow.enabled.is_(True))
                                  .order_by(Workflow.name))
    return [workflow for workflow in found
            if workflow.trigger.get("type") == "manual"
            and await service.may_run(session=session, principal=principal, workflow=workflow)]


@router.get("/incidents/{incident_id}/run_workflow")
async def run_workflow_page(
    incident_id: str, request: Request, viewer: CurrentViewer, session: Session
) -> Response:
    """"Run a workflow" on an incident: its own page, or the modal's body under htmx."""
    incident = await access.visible_incident(session=session, principal=viewer.principal,
                                             incident_id=incident_id)
    access.require_incident_writer(viewer.principal)
    template = ("workflows/_run_workflow.html" if is_htmx(request)
                else "workflows/run_workflow.html")
    return render(request, template, viewer=viewer, incident=incident,
                  workflows=await startable(session, viewer.principal))


@router.post("/incident_workflows/{workflow_id}/instances")
async def start_run(
    workflow_id: str, request: Request, viewer: CurrentViewer, session: Session,
    incident_id: str = Form(""),
) -> Response:
    try:
        run, _ = await service.start_manual(session=session, principal=viewer.principal,
                                            workflow_id=workflow_id, incident_id=incident_id)
    except InvalidInputError as exc:  # disabled since the list was shown
        return redirect(request, f"/incidents/{incident_id}", flash=exc.errors[0]
                        if exc.errors else exc.message, kind="error")
    workflow = await session.get(Workflow, run.workflow_id)
    await session.commit()
    return redirect(request, f"/incident_workflow_runs/{run.id}",
                    flash=f"Started “{workflow.name if workflow else workflow_id}”")
