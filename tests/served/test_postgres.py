"""Scale-out as README "Scale-out" runs it: PostgreSQL, `fireline serve --no-workers` for the
API and a separate `fireline worker` process (on uvloop too) that checks connections and runs
workflows. The API node never calls a tool here but to verify on save; the worker does the rest."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from tests.conftest import PostgresServer
from tests.served.cases import elasticsearch
from tests.served.conftest import base_env
from tests.served.harness import BIN, TERMINAL, Served, spawn, wait_until


@pytest.fixture(scope="module")
def scaled_out(postgres_server: PostgresServer, served_ca: trustme.CA,
               fake_routes: dict[tuple[str, int], int]) -> Iterator[Served]:
    name = asyncio.run(postgres_server.create())
    try:
        env = {**base_env(served_ca, fake_routes),
               "FIRELINE_DATABASE_URL": postgres_server.url_for(name),
               "FIRELINE_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
        with Served.start(env, workers=False) as running:
            yield running
    finally:
        asyncio.run(postgres_server.drop(name))


def test_the_worker_process_checks_connections_and_runs_workflows(scaled_out: Served) -> None:
    case = elasticsearch.CASE
    created = scaled_out.create_connection(case.slug, {
        "name": "ES on PostgreSQL", "configuration": case.config, "secrets": case.secrets})
    assert created.status_code == 201, created.text
    connection = created.json()["connection"]
    assert connection["health"]["status"] == "Healthy", connection["health"]

    action, inputs = case.steps[0]
    run = scaled_out.run_workflow({"name": "search from the worker", "steps": [
        {"id": "logs", "action": f"{case.slug}.{action}", "connection": connection["id"],
         "with": inputs},
        {"id": "note", "action": "fireline.add_note",
         "with": {"content": "{{ steps.logs.output.total }} error(s) found"}}]},
        title="scale-out")
    assert run["status"] == "succeeded", run
    case.check({action: run["steps"][0]["output"]})
    periodic = scaled_out.wait_for_periodic_check(case.slug, connection["id"])
    assert periodic["is_healthy"] is True
    assert "workflow_engine" in (scaled_out.home / "worker.log").read_text()


def test_a_delayed_run_whose_worker_is_killed_during_the_delay_completes_once(
    scaled_out: Served,
) -> None:
    """Issue 14: a delay holds no worker. The worker is SIGKILLed while the run waits, a new
    worker is started, and the run ends on time with its next step done once."""
    workflow_id = scaled_out.save_workflow({"name": "wait, then note", "steps": [
        {"id": "wait", "action": "fireline.delay", "with": {"seconds": 4}},
        {"id": "note", "action": "fireline.add_note", "with": {"content": "waited 4 s"}}]})
    incident = scaled_out.incident("delayed across a worker's death")
    started = scaled_out.http.post(f"/api/incident_workflows/{workflow_id}/instances", json={
        "incident_workflow_instance": {"incident": {"id": incident["id"],
                                                    "type": "incident_reference"}}})
    assert started.status_code == 201, started.text
    run_id = started.json()["incident_workflow_instance"]["id"]

    def step(step_id: str) -> dict[str, Any]:
        run = scaled_out.http.get(f"/api/incident_workflow_runs/{run_id}").json()
        return next(s for s in run["incident_workflow_run"]["steps"] if s["id"] == step_id)

    def waiting() -> dict[str, Any] | None:
        found = step("wait")
        return found if found["status"] == "ready" and found["started_at"] else None

    parked = wait_until("the delay to be parked", waiting)
    assert parked["next_attempt_at"], parked
    worker = scaled_out.processes[1]
    worker.kill()  # SIGKILL: no clean-up
    worker.wait()
    scaled_out.processes[1] = spawn([str(BIN), "worker"], scaled_out.env,
                                    scaled_out.home / "worker.restarted.log")

    def ended() -> dict[str, Any] | None:
        run = scaled_out.http.get(f"/api/incident_workflow_runs/{run_id}").json()
        body: dict[str, Any] = run["incident_workflow_run"]
        return body if body["status"] in TERMINAL else None

    run = wait_until("the delayed run to end", ended, timeout=60)
    assert run["status"] == "succeeded", run
    waited = next(s for s in run["steps"] if s["id"] == "wait")
    assert waited["attempts"] == 1 and waited["output"]["waited_seconds"] >= 4, waited
    notes = scaled_out.http.get(f"/api/incidents/{incident['id']}/notes").json()["notes"]
    assert [note["content"] for note in notes] == ["waited 4 s"]


def test_a_loop_whose_worker_is_killed_between_passes_runs_each_pass_once(
    scaled_out: Served,
) -> None:
    """Issue 14: a loop waiting between passes holds no worker either. The worker is
    SIGKILLed during the interval; a new one runs the second pass once, then what follows."""
    workflow_id = scaled_out.save_workflow({"name": "loop across a death", "steps": [
        {"id": "poll", "action": "fireline.loop_until",
         "with": {"expression": "steps.read.output.notes | length >= 2",
                  "max_iterations": 3, "interval_seconds": 4},
         "steps": [{"id": "ping", "action": "fireline.add_note", "with": {"content": "ping"}},
                   {"id": "read", "action": "fireline.get_notes"}]},
        {"id": "done", "action": "fireline.add_note", "with": {"content": "done"}}]})
    incident = scaled_out.incident("looped across a worker's death")
    started = scaled_out.http.post(f"/api/incident_workflows/{workflow_id}/instances", json={
        "incident_workflow_instance": {"incident": {"id": incident["id"],
                                                    "type": "incident_reference"}}})
    assert started.status_code == 201, started.text
    run_id = started.json()["incident_workflow_instance"]["id"]

    def run() -> dict[str, Any]:
        body: dict[str, Any] = scaled_out.http.get(
            f"/api/incident_workflow_runs/{run_id}").json()["incident_workflow_run"]
        return body

    def between_passes() -> dict[str, Any] | None:
        ping = next(s for s in run()["steps"] if s["id"] == "ping")
        return ping if ping["status"] == "ready" and ping["next_attempt_at"] else None

    wait_until("the loop to wait for its second pass", between_passes)
    worker = scaled_out.processes[1]
    worker.kill()
    worker.wait()
    scaled_out.processes[1] = spawn([str(BIN), "worker"], scaled_out.env,
                                    scaled_out.home / "worker.loop.log")

    ended = wait_until("the loop's run to end",
                       lambda: (body if (body := run())["status"] in TERMINAL else None),
                       timeout=60)
    assert ended["status"] == "succeeded", ended
    steps = {step["id"]: step for step in ended["steps"]}
    assert steps["poll"]["output"] == {"iterations": 2}
    notes = scaled_out.http.get(f"/api/incidents/{incident['id']}/notes").json()["notes"]
    assert [note["content"] for note in notes] == ["ping", "ping", "done"]
