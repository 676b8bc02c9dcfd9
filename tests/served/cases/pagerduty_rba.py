from __future__ import annotations

from typing import Any

from tests.integrations.fakes import pagerduty_rba as fake
from tests.served.cases.base import ToolCase

HOST = "acme.runbook.pagerduty.cloud"
TOKEN = "rba-served-token-7d41c2"
JOB = "3b6c19f6-41ee-475f-8fd0-8f1a26f27a9a"


def _server() -> fake.Server:
    return fake.Server(
        host=HOST,
        tokens={TOKEN: "automation"},
        jobs={JOB: {"name": "Restart payments", "project": "ops", "required": ["service"]}},
    )


def _check(outputs: dict[str, Any]) -> None:
    started = outputs["run_job"]
    assert started["status"] == "running"
    assert started["job_id"] == JOB
    assert started["user"] == "automation"
    assert started["argstring"] == "-service payments"
    assert started["permalink"] == f"https://{HOST}/project/ops/execution/show/{started['id']}"
    fetched = outputs["get_execution"]
    assert fetched["id"] == started["id"]
    assert (fetched["job_name"], fetched["project"]) == ("Restart payments", "ops")


CASE = ToolCase(
    slug="pagerduty_rba",
    fake=lambda: fake.make_app(_server()),
    hosts=(HOST,),
    config={"subdomain": "acme", "username": "automation"},
    secrets={"token": TOKEN},
    steps=(
        ("run_job", {"job_id": JOB, "options": {"service": "payments"}}),
        ("get_execution", {"execution_id": "{{ steps.step0.output.id }}"}),
    ),
    check=_check,
)
