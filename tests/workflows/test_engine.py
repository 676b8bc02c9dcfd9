"""The engine's promises (SECURITY.md "Nothing lost"), driven step by step: claims, leases,
completions, retries and the sweeper are called directly, and time is the engine's clock."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from fireline.connections.models import Connection
from fireline.core.audit import AuditEvent
from fireline.core.clock import utcnow
from fireline.core.db import Database
from fireline.incidents.models import Note, OutboxEvent
from fireline.integrations import registry
from fireline.workflows import runs, service
from fireline.workflows.engine import OUTPUT_CAP_BYTES, Engine, cap_output
from fireline.workflows.models import Run, RunStep, Workflow
from tests.conftest import Actor
from tests.workflows.conftest import (
    Scripted,
    incident,
    run_detail,
    save_workflow,
    scripted_connection,
    start,
)


class Clock:
    """The engine's time: a little ahead of the wall clock, so that steps the API creates
    during a test are already due, and moved on only by the test."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=5)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _engine(app: Any, db: Database, clock: Clock, name: str) -> Engine:
    return Engine(db=db, tools=app.state.tools, worker_id=name, clock=clock,
                  random=lambda: 1.0, lease_seconds=30)


@pytest.fixture
def worker_a(app, db: Database, clock: Clock) -> Engine:  # type: ignore[no-untyped-def]
    return _engine(app, db, clock, "worker-a")


@pytest.fixture
def worker_b(app, db: Database, clock: Clock) -> Engine:  # type: ignore[no-untyped-def]
    return _engine(app, db, clock, "worker-b")


def scripted_step(step_id: str = "call", action: str = "scripted.call",
                  with_: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {"id": step_id, "action": action, "with": with_ or {}, **fields}


async def run_of(client: httpx.AsyncClient, admin: Actor, *steps: dict[str, Any],
                 incident_title: str = "Disk full", **fields: Any) -> tuple[str, str]:
    saved = await save_workflow(client, admin, {"name": "W", "steps": list(steps), **fields})
    assert saved.status_code == 201, saved.text
    found = await incident(client, admin, title=incident_title)
    started = await start(client, admin, saved.json()["incident_workflow"]["id"], found["id"])
    assert started.status_code == 201, started.text
    return started.json()["incident_workflow_instance"]["id"], found["id"]


async def until(condition: Callable[[], Awaitable[bool] | bool]) -> None:
    """Waits for background tasks to reach a point (the bound only guards against a hang)."""
    for _ in range(6000):
        reached = condition()
        if await reached if inspect.isawaitable(reached) else reached:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never reached")


async def _step(db: Database, run_id: str, step_id: str) -> RunStep:
    async with db.session() as session:
        step = await session.get(RunStep, (run_id, step_id))
        assert step is not None
        return step


async def _notes(db: Database, incident_id: str) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(Note.content).where(
            Note.incident_id == incident_id)))


async def test_wf3_wf4_expired_lease_is_rerun_elsewhere_and_the_late_result_dropped(
    client: httpx.AsyncClient, make_actor, db: Database, scripted: Scripted,
    worker_a: Engine, worker_b: Engine, clock: Clock,
) -> None:
    admin: Actor = await make_actor("admin")
    await scripted_connection(client, admin)
    # A first attempt fails transiently, so the retry's inputs are already stored; the
    # second call (worker A's) stalls inside the tool.
    run_id, _ = await run_of(client, admin, scripted_step(
        with_={"script": ["transient", "gate"]}, retry={"max_attempts": 5, "backoff": 1}))
    await worker_a.drain()
    clock.advance(1)
    [stalled] = await worker_a.claim()  # worker A takes the retry
    assert stalled.attempt == 2
    late = asyncio.create_task(worker_a.execute(stalled))
    await until(lambda: scripted.inside == 1)  # A is inside the tool
    assert await worker_b.claim() == []  # the lease holds
    clock.advance(31)
    [taken] = await worker_b.claim()
    assert taken.attempt == 3 and taken.lease_was_lost
    assert await worker_b.execute(taken) is True
    # Worker A's call returns and it finishes: its result is dropped.
    scripted.gate.set()
    assert await late is False
    step = await _step(db, run_id, "call")
    # B's call (the tool's 3rd) is the one recorded; A's (the 2nd, ending later) is not.
    assert (step.status, step.attempt, step.output["attempt"]) == ("succeeded", 3, 3)
    assert scripted.calls[f"{run_id}:call"] == 3
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "succeeded"


async def test_wf4_a_worker_that_lost_its_lease_before_sending_sends_nothing(
    client: httpx.AsyncClient, make_actor, scripted: Scripted, worker_a: Engine,
    worker_b: Engine, clock: Clock,
) -> None:
    admin: Actor = await make_actor("admin")
    await scripted_connection(client, admin)
    run_id, _ = await run_of(client, admin, scripted_step())
    [stalled] = await worker_a.claim()
    clock.advance(31)
    [taken] = await worker_b.claim()
    assert await worker_b.execute(taken) is True
    assert await worker_a.execute(stalled) is False
    assert scripted.calls[f"{run_id}:call"] == 1


async def test_wf4_builtin_effect_is_applied_once_when_a_stale_worker_finishes(
    client: httpx.AsyncClient, make_actor, db: Database, worker_a: Engine, worker_b: Engine,
    clock: Clock,
) -> None:
    admin: Actor = await make_actor("admin")
    _, incident_id = await run_of(client, admin, {
        "id": "note", "action": "fireline.add_note", "with": {"content": "once"}})
    [stalled] = await worker_a.claim()
    clock.advance(31)
    [taken] = await worker_b.claim()
    assert await worker_b.execute(taken) is True
    assert await worker_a.execute(stalled) is False
    assert await _notes(db, incident_id) == ["once"]


async def test_wf6_lost_lease_on_a_non_idempotent_action_needs_attention(
    client: httpx.AsyncClient, make_actor, db: Database, scripted: Scripted,
    worker_a: Engine, worker_b: Engine, clock: Clock,
) -> None:
    admin: Actor = await make_actor("admin")
    await scripted_connection(client, admin)
    run_id, _ = await run_of(client, admin, scripted_step(action="scripted.create"),
                             scripted_step("after", "fireline.noop"))
    await worker_a.claim()
    clock.advance(31)
    [taken] = await worker_b.claim()
    await worker_b.execute(taken)
    assert sum(scripted.calls.values()) == 0  # not retried blindly
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "needs_attention"
    assert [s["status"] for s in run["steps"]] == ["needs_attention", "skipped"]
    assert "not retried" in run["steps"][0]["error"]


async def test_wf6_unknown_outcome_of_a_non_idempotent_action_needs_attention(
    client: httpx.AsyncClient, make_actor, scripted: Scripted, worker_a: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    await scripted_connection(client, admin)
    run_id, _ = await run_of(client, admin, scripted_step(
        action="scripted.create", with_={"script": ["unknown"]}))
    await worker_a.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "needs_attention"
    assert sum(scripted.calls.values()) == 1


async def test_wf8_transient_errors_back_off_and_honour_retry_after_wf9_same_inputs(
    client: httpx.AsyncClient, make_actor, db: Database, scripted: Scripted,
    worker_a: Engine, clock: Clock,
) -> None:
    admin: Actor = await make_actor("admin")
    await scripted_connection(client, admin)
    run_id, incident_id = await run_of(
        client, admin,
        scripted_step(with_={"script": ["transient", "retry_after"],
                             "label": "{{ incident.title }}"},
                      retry={"max_attempts": 3, "backoff": 2}),
        incident_title="first title")
    await worker_a.drain()
    step = await _step(db, run_id, "call")
    assert (step.status, step.attempt) == ("ready", 1)
    assert step.next_attempt_at == clock.now + timedelta(seconds=2)  # base * 2^0 (jitter 1.0)
    # The incident changes between attempts; the retry still sees the first inputs (WF-9).
    response = await client.put(f"/api/incidents/{incident_id}", headers={
        **admin.headers, "From": admin.user.email},
        json={"incident": {"type": "incident", "title": "second title"}})
    assert response.status_code == 200, response.text
    clock.advance(2)
    await worker_a.drain()
    step = await _step(db, run_id, "call")
    assert (step.status, step.attempt) == ("ready", 2)
    assert step.next_attempt_at == clock.now + timedelta(seconds=120)  # Retry-After wins
    clock.advance(119)
    assert await worker_a.drain() == 0  # not due yet
    clock.advance(1)
    await worker_a.drain()
    step = await _step(db, run_id, "call")
    assert (step.status, step.attempt) == ("succeeded", 3)
    assert {label for _, label in scripted.labels} == {"first title"}
    assert set(scripted.calls) == {f"{run_id}:call"}  # WF-5: one key across attempts


async def test_wf8_retries_stop_at_max_attempts(
    client: httpx.AsyncClient, make_actor, db: Database, scripted: Scripted,
    worker_a: Engine, clock: Clock,
) -> None:
    admin: Actor = await make_actor("admin")
    await scripted_connection(client, admin)
    run_id, _ = await run_of(client, admin, scripted_step(
        with_={"script": ["transient"] * 5}, retry={"max_attempts": 2, "backoff": 1}))
    for _ in range(3):
        await worker_a.drain()
        clock.advance(10)
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "failed" and run["steps"][0]["attempts"] == 2
    assert "tool busy" in run["error"]


async def test_wf8_credential_errors_are_not_retried_and_mark_the_connection_unhealthy(
    client: httpx.AsyncClient, make_actor, db: Database, scripted: Scripted,
    worker_a: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    connection_id = await scripted_connection(client, admin)
    run_id, _ = await run_of(client, admin, scripted_step(with_={"script": ["credential"]}))
    await worker_a.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "failed" and run["steps"][0]["attempts"] == 1
    async with db.session() as session:
        connection = await session.get(Connection, connection_id)
        assert connection is not None and connection.health_status == "Unhealthy"
        assert connection.health_message == "token revoked"


async def test_parallel_branches_join(
    client: httpx.AsyncClient, make_actor, scripted: Scripted, worker_a: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    await scripted_connection(client, admin)
    run_id, _ = await run_of(
        client, admin,
        scripted_step("a", with_={"label": "A"}, needs=[]),
        scripted_step("b", with_={"label": "B"}, needs=[]),
        {"id": "join", "action": "fireline.add_note", "needs": ["a", "b"],
         "with": {"content": "{{ steps.a.output.label }}{{ steps.b.output.label }}"}})
    [first, second] = await worker_a.claim()  # both branches are runnable at once
    assert {first.step_id, second.step_id} == {"a", "b"}
    await asyncio.gather(worker_a.execute(first), worker_a.execute(second))
    await worker_a.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "succeeded"
    assert run["steps"][2]["inputs"] == {"content": "AB"}


async def test_wf7_sweeper_fails_runs_past_their_deadline(
    client: httpx.AsyncClient, make_actor, db: Database, scripted: Scripted,
    worker_a: Engine, clock: Clock,
) -> None:
    admin: Actor = await make_actor("admin")
    await scripted_connection(client, admin)
    run_id, _ = await run_of(client, admin, scripted_step(with_={"script": ["retry_after"]}),
                             timeout_seconds=60)
    await worker_a.drain()
    assert await worker_a.sweep_once() == 0
    clock.advance(61)
    assert await worker_a.sweep_once() == 1
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "failed" and "deadline" in run["error"]
    assert run["steps"][0]["status"] == "cancelled"
    clock.advance(200)
    assert await worker_a.drain() == 0


async def test_wf2_one_event_starts_a_workflow_once(
    client: httpx.AsyncClient, make_actor, db: Database, worker_a: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    saved = (await save_workflow(client, admin, {
        "name": "On trigger", "trigger": {"type": "conditional", "on": ["incident.triggered"]},
        "steps": [{"id": "n", "action": "fireline.noop"}]})).json()["incident_workflow"]
    await incident(client, admin)
    await worker_a.relay_once()
    async with db.transaction() as session:
        event = await session.scalar(select(OutboxEvent))
        workflow = await session.get(Workflow, saved["id"])
        assert event is not None and workflow is not None
        definition = await service.definition_of(session=session, workflow_id=workflow.id,
                                                  version=1)
        again = await runs.create_run(session=session, workflow=workflow,
                                      definition=definition, incident_id=event.incident_id,
                                      trigger_event_id=event.id)
        assert again is None
        assert await session.scalar(select(func.count()).select_from(Run)) == 1


async def test_concurrent_claimers_never_take_the_same_step(
    client: httpx.AsyncClient, make_actor, db: Database, worker_a: Engine, worker_b: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    saved = (await save_workflow(client, admin, {
        "name": "Noop", "steps": [{"id": "n", "action": "fireline.noop"}]})
    ).json()["incident_workflow"]
    found = await incident(client, admin)
    for _ in range(12):
        await start(client, admin, saved["id"], found["id"])
    worker_a.batch = worker_b.batch = 8
    claims = await asyncio.gather(worker_a.claim(), worker_b.claim())
    taken = [(c.run_id, c.step_id) for batch in claims for c in batch]
    assert len(taken) == 12 and len(set(taken)) == 12


async def test_at_most_n_steps_run_at_once_through_one_connection_and_the_rest_wait(
    client: httpx.AsyncClient, make_actor, db: Database, scripted: Scripted,
    worker_a: Engine, worker_b: Engine, clock: Clock,
) -> None:
    admin: Actor = await make_actor("admin")
    connection_id = await scripted_connection(client, admin)
    saved = (await save_workflow(client, admin, {
        "name": "Gated", "steps": [scripted_step(with_={"script": ["gate"]})]})
    ).json()["incident_workflow"]
    found = await incident(client, admin)
    run_ids = [(await start(client, admin, saved["id"], found["id"])).json()[
        "incident_workflow_instance"]["id"] for _ in range(5)]
    for worker in (worker_a, worker_b):  # two workers share the five steps
        worker.connection_concurrency, worker.batch = 2, 3
    rounds = asyncio.gather(worker_a.run_once(), worker_b.run_once())

    async def counts() -> tuple[int, int]:
        async with db.session() as session:
            holding = await session.scalar(select(func.count()).select_from(RunStep).where(
                RunStep.status == "running", RunStep.connection_id == connection_id))
            waiting = await session.scalar(select(func.count()).select_from(RunStep).where(
                RunStep.status == "ready", RunStep.attempt == 0))
        return holding or 0, waiting or 0

    async def settled() -> bool:
        return (scripted.inside, *await counts()) == (2, 2, 3)

    await until(settled)
    # Two are inside the tool; the other three went back to the queue without calling it,
    # without failing and without spending an attempt.
    assert scripted.most_inside == 2 and sum(scripted.calls.values()) == 2
    scripted.gate.set()
    await rounds
    for _ in range(10):  # steps that wait again while others hold the slots come back later
        clock.advance(5)
        await asyncio.gather(worker_a.drain(), worker_b.drain())
        if (await counts())[1] == 0:
            break
    for run_id in run_ids:
        step = await _step(db, run_id, "call")
        assert (step.status, step.attempt, step.connection_id) == (
            "succeeded", 1, connection_id)
        assert scripted.calls[f"{run_id}:call"] == 1
    assert scripted.most_inside == 2


def test_outputs_are_capped_keeping_small_fields() -> None:
    big = {"total": 5000, "hits": [{"message": "x" * 200} for _ in range(5000)]}
    capped = cap_output(big)
    assert capped["total"] == 5000 and capped["_truncated"] is True
    assert 0 < len(capped["hits"]) < 5000
    assert len(json.dumps(capped)) <= OUTPUT_CAP_BYTES


async def test_wf3_heartbeats_keep_a_long_step_and_stop_once_the_lease_is_lost(
    client: httpx.AsyncClient, make_actor, scripted: Scripted, worker_a: Engine,
    worker_b: Engine, clock: Clock,
) -> None:
    admin: Actor = await make_actor("admin")
    await scripted_connection(client, admin)
    await run_of(client, admin, scripted_step())
    [claimed] = await worker_a.claim()
    clock.advance(20)
    assert await worker_a.extend_lease(claimed) is True
    clock.advance(20)  # 40 s after the claim, 20 s after the heartbeat: still held
    assert await worker_b.claim() == []
    clock.advance(11)
    [taken] = await worker_b.claim()
    assert await worker_a.extend_lease(claimed) is False
    assert await worker_b.extend_lease(taken) is True


async def test_conditional_triggers_match_event_service_and_condition(
    client: httpx.AsyncClient, make_actor, db: Database, worker_a: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    found = await incident(client, admin, title="db down")
    other = await incident(client, admin, title="db slow")

    def conditional(name: str, **trigger: Any) -> dict[str, Any]:
        return {"name": name, "steps": [{"id": "n", "action": "fireline.noop"}],
                "trigger": {"type": "conditional", **trigger}}

    for definition in (
        conditional("ack", on=["incident.acknowledged"]),
        conditional("this service", on=["incident.acknowledged"],
                    services=[found["service"]["id"]]),
        conditional("urgent db", on=["incident.acknowledged"],
                    condition="incident.urgency == 'high' and 'down' in incident.title"),
        conditional("resolved only", on=["incident.resolved"]),
        {**conditional("disabled", on=["incident.acknowledged"]), "enabled": False},
    ):
        assert (await save_workflow(client, admin, definition)).status_code == 201
    await worker_a.relay_once()  # the incidents' own trigger events start nothing
    for item in (found, other):
        response = await client.put(
            f"/api/incidents/{item['id']}", headers={**admin.headers, "From": admin.user.email},
            json={"incident": {"type": "incident", "status": "acknowledged"}})
        assert response.status_code == 200, response.text
    await worker_a.relay_once()
    async with db.session() as session:
        started = Counter(
            (name, incident_id) for name, incident_id in await session.execute(
                select(Workflow.name, Run.incident_id).join(Run, Run.workflow_id == Workflow.id)))
    assert started == Counter({("ack", found["id"]): 1, ("ack", other["id"]): 1,
                               ("this service", found["id"]): 1, ("urgent db", found["id"]): 1})


async def test_sec1_secrets_echoed_by_a_tool_never_reach_run_history(
    client: httpx.AsyncClient, make_actor, db: Database, scripted: Scripted, worker_a: Engine,
) -> None:
    canary = "canary-" + "9f3b2c7d1e8a4f60"
    admin: Actor = await make_actor("admin")
    await scripted_connection(client, admin, token=canary)
    run_id, incident_id = await run_of(
        client, admin,
        scripted_step("echo", with_={"echo_secret": True}),
        {"id": "note", "action": "fireline.add_note",
         "with": {"content": "tool said {{ steps.echo.output.label }}"}},
        scripted_step("fail", with_={"echo_secret": True, "script": ["permanent"]}))
    await worker_a.drain()
    detail = await client.get(f"/api/incident_workflow_runs/{run_id}", headers=admin.headers)
    entries = await client.get(f"/api/incidents/{incident_id}/log_entries",
                               headers=admin.headers)
    assert detail.json()["incident_workflow_run"]["status"] == "failed"
    assert "[REDACTED]" in detail.text
    for text in (detail.text, entries.text):
        assert canary not in text
    async with db.session() as session:
        stored = [json.dumps(row.output) + json.dumps(row.inputs) + str(row.error)
                  for row in await session.scalars(select(RunStep))]
        notes = list(await session.scalars(select(Note.content)))
        audits = [str(a.message) + json.dumps(a.details)
                  for a in await session.scalars(select(AuditEvent))]
    assert all(canary not in item for item in [*stored, *notes, *audits])
    assert notes == ["tool said token=[REDACTED]"]


async def test_workflows_triggering_each_other_stop_after_a_few_rounds(
    client: httpx.AsyncClient, make_actor, db: Database, worker_a: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    for name in ("ping", "pong"):  # each reacts to the other's note
        saved = await save_workflow(client, admin, {
            "name": name, "trigger": {"type": "conditional", "on": ["incident.note_added"]},
            "steps": [{"id": "n", "action": "fireline.add_note", "with": {"content": name}}]})
        assert saved.status_code == 201
    found = await incident(client, admin)
    response = await client.post(f"/api/incidents/{found['id']}/notes",
                                 headers={**admin.headers, "From": admin.user.email},
                                 json={"note": {"content": "start"}})
    assert response.status_code == 201, response.text
    await worker_a.drain()
    notes = await _notes(db, found["id"])
    # start -> ping, pong (depth 1) -> pong, ping (depth 2) -> ping, pong (depth 3): stop.
    assert sorted(notes) == sorted(["start", *["ping", "pong"] * 3])


async def test_an_action_gone_since_the_save_fails_its_step_clearly(
    client: httpx.AsyncClient, make_actor, scripted: Scripted, worker_a: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin: Actor = await make_actor("admin")
    await scripted_connection(client, admin)
    run_id, _ = await run_of(client, admin, scripted_step())
    monkeypatch.delitem(registry._BY_SLUG, "scripted")
    await worker_a.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "failed"
    assert run["steps"][0]["error"] == "Unknown action 'scripted.call'"
