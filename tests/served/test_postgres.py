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
from tests.served.harness import BIN, Served, spawn, wait_until


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


def _kill_the_worker(scaled_out: Served, log_name: str) -> None:
    """SIGKILL (no clean-up) and a new worker process in its place."""
    worker = scaled_out.processes[1]
    worker.kill()
    worker.wait()
    scaled_out.processes[1] = spawn([str(BIN), "worker"], scaled_out.env,
                                    scaled_out.home / log_name)


def _step(run: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(step for step in run["steps"] if step["id"] == step_id)


def _notes(scaled_out: Served, incident_id: str) -> list[str]:
    notes = scaled_out.http.get(f"/api/incidents/{incident_id}/notes").json()["notes"]
    return [note["content"] for note in notes]


def test_a_delayed_run_whose_worker_is_killed_during_the_delay_completes_once(
    scaled_out: Served,
) -> None:
    """Issue 14: a delay holds no worker. The worker is SIGKILLed while the run waits, a new
    worker is started, and the run ends on time with its next step done once."""
    workflow_id = scaled_out.save_workflow({"name": "wait, then note", "steps": [
        {"id": "wait", "action": "fireline.delay", "with": {"seconds": 4}},
        {"id": "note", "action": "fireline.add_note", "with": {"content": "waited 4 s"}}]})
    incident = scaled_out.incident("delayed across a worker's death")
    run_id = scaled_out.start_run(workflow_id, incident["id"])

    def waiting() -> dict[str, Any] | None:
        found = _step(scaled_out.run(run_id), "wait")
        return found if found["status"] == "ready" and found["started_at"] else None

    parked = wait_until("the delay to be parked", waiting)
    assert parked["next_attempt_at"], parked
    _kill_the_worker(scaled_out, "worker.restarted.log")

    run = scaled_out.wait_for_run(run_id)
    assert run["status"] == "succeeded", run
    waited = _step(run, "wait")
    assert waited["attempts"] == 1 and waited["output"]["waited_seconds"] >= 4, waited
    assert _notes(scaled_out, incident["id"]) == ["waited 4 s"]


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
    run_id = scaled_out.start_run(workflow_id, incident["id"])

    def between_passes() -> dict[str, Any] | None:
        ping = _step(scaled_out.run(run_id), "ping")
        return ping if ping["status"] == "ready" and ping["next_attempt_at"] else None

    wait_until("the loop to wait for its second pass", between_passes)
    _kill_the_worker(scaled_out, "worker.loop.log")

    run = scaled_out.wait_for_run(run_id)
    assert run["status"] == "succeeded", run
    assert _step(run, "poll")["output"] == {"iterations": 2}
    assert _notes(scaled_out, incident["id"]) == ["ping", "ping", "done"]
