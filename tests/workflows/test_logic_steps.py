"""Logic steps that take time (issue 14): `fireline.delay` and `fireline.wait_for_status` park
their step, `ready` again at the time they name, so a waiting run holds no worker and no lease
and is counted from the step's first start (kept in its row): another engine, or one started
after a crash, ends the wait at the same moment. Time is the engine's clock."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from fireline.core.db import Database
from fireline.incidents.models import Note
from fireline.workflows.engine import Engine
from fireline.workflows.models import RunStep
from tests.conftest import Actor
from tests.incidents.helpers import writer_headers
from tests.workflows.conftest import run_detail
from tests.workflows.test_engine import Clock, clock, run_of, worker_a, worker_b  # noqa: F401

NOTE = {"id": "note", "action": "fireline.add_note", "with": {"content": "after the wait"}}


async def _step(db: Database, run_id: str, step_id: str) -> RunStep:
    async with db.session() as session:
        found = await session.scalar(select(RunStep).where(RunStep.run_id == run_id,
                                                           RunStep.step_id == step_id))
    assert found is not None
    return found


async def _notes(db: Database, incident_id: str) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Note).where(
            Note.incident_id == incident_id)) or 0)


async def test_a_delay_parks_its_step_and_another_engine_ends_it_on_time(
    client: httpx.AsyncClient, make_actor, db: Database, clock: Clock,  # noqa: F811
    worker_a: Engine, worker_b: Engine,  # noqa: F811
) -> None:
    admin: Actor = await make_actor("admin")
    run_id, incident_id = await run_of(
        client, admin, {"id": "wait", "action": "fireline.delay", "with": {"seconds": 60}}, NOTE)
    await worker_a.drain()
    parked = await _step(db, run_id, "wait")
    assert (parked.status, parked.attempt, parked.lease_owner) == ("ready", 0, None)
    assert parked.started_at is not None and parked.next_attempt_at is not None
    assert (parked.next_attempt_at - parked.started_at).total_seconds() == 60
    assert (await run_detail(client, admin, run_id))["status"] == "running"

    clock.advance(59)
    await worker_b.drain()  # not yet: another engine sees the same due time
    assert (await _step(db, run_id, "wait")).status == "ready"
    assert await _notes(db, incident_id) == 0

    clock.advance(1)
    await worker_b.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "succeeded", run
    waited = next(step for step in run["steps"] if step["id"] == "wait")
    assert waited["attempts"] == 1 and waited["output"] == {"waited_seconds": 60.0}
    assert await _notes(db, incident_id) == 1


async def test_wait_for_status_goes_on_once_the_incident_is_resolved(
    client: httpx.AsyncClient, make_actor, db: Database, clock: Clock,  # noqa: F811
    worker_a: Engine,  # noqa: F811
) -> None:
    admin: Actor = await make_actor("admin")
    run_id, incident_id = await run_of(client, admin, {
        "id": "resolved", "action": "fireline.wait_for_status",
        "with": {"status": "resolved", "poll_seconds": 5, "timeout_seconds": 600}}, NOTE)
    await worker_a.drain()
    assert (await _step(db, run_id, "resolved")).status == "ready"
    clock.advance(5)
    await worker_a.drain()  # checked again: still triggered
    assert (await _step(db, run_id, "resolved")).status == "ready"

    changed = await client.put(f"/api/incidents/{incident_id}", headers=writer_headers(admin),
                               json={"incident": {"type": "incident", "status": "resolved"}})
    assert changed.status_code == 200, changed.text
    clock.advance(5)
    await worker_a.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "succeeded", run
    reached: dict[str, Any] = next(s for s in run["steps"] if s["id"] == "resolved")
    assert reached["output"] == {"status": "resolved", "waited_seconds": 10.0}
    assert reached["attempts"] == 1


async def test_wait_for_status_fails_its_step_when_the_timeout_passes(
    client: httpx.AsyncClient, make_actor, db: Database, clock: Clock,  # noqa: F811
    worker_a: Engine,  # noqa: F811
) -> None:
    admin: Actor = await make_actor("admin")
    run_id, incident_id = await run_of(client, admin, {
        "id": "acked", "action": "fireline.wait_for_status",
        "with": {"status": "acknowledged", "poll_seconds": 30, "timeout_seconds": 45}}, NOTE)
    await worker_a.drain()
    clock.advance(30)
    await worker_a.drain()
    assert (await _step(db, run_id, "acked")).next_attempt_at is not None
    clock.advance(15)  # the last check is at the timeout, not a poll later
    await worker_a.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "failed", run
    assert "not acknowledged within 45 seconds" in run["error"]
    assert await _notes(db, incident_id) == 0


async def test_read_and_text_helpers_feed_later_steps(
    client: httpx.AsyncClient, make_actor, db: Database, worker_a: Engine,  # noqa: F811
) -> None:
    admin: Actor = await make_actor("admin")
    run_id, incident_id = await run_of(
        client, admin,
        {"id": "first", "action": "fireline.add_note", "with": {"content": "  disk at 99%  "}},
        {"id": "service", "action": "fireline.get_service_details"},
        {"id": "notes", "action": "fireline.get_notes"},
        {"id": "content", "action": "fireline.json_lookup",
         "with": {"json": "{{ steps.notes.output | tojson }}", "key": "notes.0.content"}},
        {"id": "missing", "action": "fireline.json_lookup",
         "with": {"json": '{"a": [1]}', "key": "a.5"}},
        {"id": "shout", "action": "fireline.format_text",
         "with": {"text": "{{ steps.content.output.value }}", "operation": "trim"}},
        {"id": "upper", "action": "fireline.format_text",
         "with": {"text": "{{ steps.shout.output.text }} on {{ steps.service.output.name }}",
                  "operation": "upper"}},
        {"id": "note", "action": "fireline.add_note",
         "with": {"content": "{{ steps.upper.output.text }}"}},
        incident_title="Disk")
    await worker_a.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "succeeded", run
    outputs = {step["id"]: step["output"] for step in run["steps"]}
    assert outputs["service"]["name"] == "svc-Disk"
    assert outputs["content"] == {"found": True, "value": "  disk at 99%  "}
    assert outputs["missing"] == {"found": False, "value": None}
    assert outputs["upper"] == {"text": "DISK AT 99% ON SVC-DISK"}
    assert await _notes(db, incident_id) == 2
