"""Runbook Automation actions: Run Job (`POST /api/{v}/job/{id}/run`, JSON body with
`options`, optional `asUser`, `loglevel`, `filter`) and Get Execution
(`GET /api/{v}/execution/{id}`). Both answer Rundeck's execution object.

Run Job starts an execution: it is not idempotent and is never retried blindly (WF-5);
Rundeck has no idempotency key to pass.
"""

from __future__ import annotations

from typing import Any

from fireline.integrations.base import Action, ToolContext
from fireline.integrations.pagerduty_rba import client
from fireline.integrations.pagerduty_rba.schema import Execution, GetExecutionInput, RunJobInput


def _date(value: Any) -> str | None:
    # Rundeck: "date-started": {"unixtime": 1431536339809, "date": "2015-05-13T16:58:59Z"}
    return value.get("date") if isinstance(value, dict) else None


def _nodes(value: Any) -> list[str]:
    return [str(node) for node in value] if isinstance(value, list) else []


def execution(body: dict[str, Any]) -> Execution:
    job = body.get("job") or {}
    return Execution(
        id=int(body["id"]),
        status=str(body.get("status", "unknown")),
        permalink=body.get("permalink"),
        href=body.get("href"),
        project=body.get("project"),
        user=body.get("user"),
        job_id=job.get("id"),
        job_name=job.get("name"),
        argstring=body.get("argstring"),
        started_at=_date(body.get("date-started")),
        ended_at=_date(body.get("date-ended")),
        successful_nodes=_nodes(body.get("successfulNodes")),
        failed_nodes=_nodes(body.get("failedNodes")),
    )


async def run_job(ctx: ToolContext, data: RunJobInput) -> Execution:
    body: dict[str, Any] = {"options": data.options}
    if data.as_user:
        body["asUser"] = data.as_user
    if data.log_level:
        body["loglevel"] = data.log_level
    if data.node_filter:
        body["filter"] = data.node_filter
    result = await client.call(ctx, "POST", f"/job/{data.job_id}/run", idempotent=False, json=body)
    return execution(result)


async def get_execution(ctx: ToolContext, data: GetExecutionInput) -> Execution:
    result = await client.call(ctx, "GET", f"/execution/{data.execution_id}", idempotent=True)
    return execution(result)


RUN_JOB = Action(
    name="run_job",
    title="Run Job",
    input=RunJobInput,
    output=Execution,
    idempotent=False,
    run=run_job,
)
GET_EXECUTION = Action(
    name="get_execution",
    title="Get Execution",
    input=GetExecutionInput,
    output=Execution,
    idempotent=True,
    run=get_execution,
)
