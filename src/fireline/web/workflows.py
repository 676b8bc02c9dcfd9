"""Pages of the workflows domain (see DESIGN.md, the web app): the incident workflow list,
and a workflow with its trigger, steps and recent runs.

Read-only for now, and read through `workflows.service` as the REST views are: every
signed-in user reads workflows, and runs on incidents a restricted user cannot see are left
out (`service.list_runs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts.permissions import Session
from fireline.core.pagination import PageParams, Pagination
from fireline.incidents import catalog
from fireline.incidents.models import Incident
from fireline.integrations import registry
from fireline.web.frame import CurrentViewer, render
from fireline.workflows import definitions, service
from fireline.workflows.definitions import Step
from fireline.workflows.models import Run, Workflow

router = APIRouter(include_in_schema=False)

RUN_TONES = {"succeeded": "healthy", "failed": "unhealthy", "needs_attention": "unhealthy"}
RECENT_RUNS = 10


@dataclass(frozen=True)
class StepRow:
    id: str
    action: str
    connection: str
    needs: list[str]


@dataclass(frozen=True)
class RunRow:
    run: Run
    incident_label: str | None  # None: the incident is gone


def trigger_label(workflow: Workflow) -> str:
    if workflow.trigger.get("type") == "conditional":
        return "When " + ", ".join(workflow.trigger.get("on", []))
    return "Manual"


def step_row(step: Step, needs: list[str]) -> StepRow:
    """How a step's connection reads: built-in actions need none; `default` is the tool's."""
    spec = definitions.find_action(step.action)
    if spec is None or spec.integration is None:
        connection = "none needed"
    else:
        tool = registry.get(spec.integration)
        title = tool.title if tool else spec.integration
        connection = (f"{title}: the default connection" if step.connection == "default"
                      else f"{title}: {step.connection}")
    return StepRow(step.id, step.action, connection, needs)


async def run_rows(session: AsyncSession, runs: list[Run]) -> list[RunRow]:
    ids = {run.incident_id for run in runs}
    labels = {
        id_: f"#{number} {title}" for id_, number, title in await session.execute(
            select(Incident.id, Incident.incident_number, Incident.title)
            .where(Incident.id.in_(ids)))
    } if ids else {}
    return [RunRow(run, labels.get(run.incident_id)) for run in runs]


@router.get("/incident_workflows")
async def workflow_list(
    request: Request, viewer: CurrentViewer, session: Session, page: Pagination
) -> Response:
    found = await service.list_workflows(session=session, params=page)

    def at_offset(offset: int) -> str:
        return f"/incident_workflows?offset={offset}&limit={page.limit}"

    return render(
        request, "workflows/list.html", viewer=viewer,
        workflows=[(item, trigger_label(item)) for item in found.items],
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
        trigger=trigger, trigger_label=trigger_label(workflow),
        trigger_services=list(services.values()), timeout_seconds=definition.timeout_seconds,
        steps=[step_row(step, definition.needs_of(step)) for step in definition.steps],
        runs=await run_rows(session, runs.items), more_runs=runs.more, tones=RUN_TONES,
    )
