"""Runs and their steps: creation, settling after a step ends, cancellation.

A run is created with every step in one transaction: steps without `needs` are `ready`,
the rest `waiting`. After each step reaches an end, `settle` (under the run's row lock)
readies the steps whose needs all succeeded, skips what can no longer run after a failure,
and — when nothing is left to run — names the run's terminal status (WF-7); `finish` gives
it and writes it to the incident's timeline. The engine works on `StepState`s (a step's
row without its output) read and written with Core statements: its per-step path stays a
handful of statements.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from fireline.core.clock import utcnow
from fireline.core.db import dialect_name, insert_for
from fireline.core.ids import new_id
from fireline.incidents import timeline
from fireline.incidents.models import Incident
from fireline.incidents.timeline import Agent
from fireline.workflows.definitions import Definition
from fireline.workflows.models import DONE, RUN_TERMINAL, STEP_TERMINAL, Run, RunStep, Workflow

RUN_LOG_ENTRY = "workflow_run_log_entry"
STEP_LOG_ENTRY = "workflow_step_log_entry"


def workflow_agent(workflow_id: str, name: str) -> Agent:
    return Agent("incident_workflow_reference", workflow_id, name, "workflow")


async def create_run(
    *, session: AsyncSession, workflow: Workflow, definition: Definition, incident_id: str,
    trigger_event_id: int | None = None, started_by_id: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """Inserts the run and its steps; None when this event already started this workflow."""
    now = now or utcnow()
    run_id = new_id()
    values = {
        "id": run_id, "workflow_id": workflow.id, "version": workflow.current_version,
        "incident_id": incident_id, "status": "queued", "trigger_event_id": trigger_event_id,
        "started_by_id": started_by_id, "created_at": now,
        "deadline": now + timedelta(seconds=definition.timeout_seconds),
    }
    # WF-2: the unique (workflow_id, trigger_event_id) decides, in the insert itself.
    inserted = await session.scalar(
        insert_for(session)(Run).values(values)
        .on_conflict_do_nothing(index_elements=[Run.workflow_id, Run.trigger_event_id])
        .returning(Run.id))
    if inserted is None:
        return None
    session.add_all(
        RunStep(
            run_id=run_id, step_id=step.id, position=position, action=step.action,
            status="waiting" if definition.needs_of(step) else "ready", attempt=0,
            next_attempt_at=now, idempotency_key=idempotency_key(run_id, step.id), created_at=now,
        )
        for position, step in enumerate(definition.all_steps)
    )
    await session.flush()
    return run_id


_MARK_RUNNING = (update(cast(Table, Run.__table__))
                 .where(Run.id == bindparam("run_id"), Run.status == "queued")
                 .values(status="running", started_at=bindparam("started_at")))


def mark_running(connection: Connection, run_id: str, started_at: datetime) -> None:
    connection.execute(_MARK_RUNNING, {"run_id": run_id, "started_at": started_at})


async def lock_run(session: AsyncSession, run_id: str) -> Run | None:
    statement = select(Run).where(Run.id == run_id)
    if dialect_name(session) == "postgresql":
        # Two parallel steps finishing at once must not both miss the run's end.
        statement = statement.with_for_update()
    return await session.scalar(statement.execution_options(populate_existing=True))


@dataclass
class StepState:
    """A step's row without its output (the large column): what completing, settling and
    leasing decide from. Changes are written back by `save_states`, column by column."""

    run_id: str
    step_id: str
    position: int
    action: str
    status: str
    attempt: int
    iteration: int
    inputs: dict[str, Any] | None
    error: str | None
    connection_id: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    next_attempt_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name, value in self._loaded.items()
                if getattr(self, name) != value}


_STATE_COLUMNS = [field_.name for field_ in fields(StepState) if not field_.name.startswith("_")]
_steps = cast(Table, RunStep.__table__)
_runs = cast(Table, Run.__table__)
# Built once: the engine runs these for every step. A step that succeeded is final and
# nothing reads more of it than that, so it is left out (in a long run, most steps).
_LOCK_RUN_STEPS = (
    select(_runs.c.status.label("run_status"), *(_steps.c[name] for name in _STATE_COLUMNS))
    .select_from(_runs).join(_steps, _steps.c.run_id == _runs.c.id)
    .where(_runs.c.id == bindparam("run_id"), _steps.c.status != "succeeded"))
_LOCK_RUN_STEPS_FOR_UPDATE = _LOCK_RUN_STEPS.with_for_update()


def lock_run_steps(connection: Connection, run_id: str
                   ) -> tuple[str, dict[str, StepState]] | None:
    """The run's status and its steps that have not succeeded (a step missing from them has
    succeeded), fresh, in one statement; on PostgreSQL under the row locks of the run (taken
    first: `workflow_runs` leads the FROM list, as everywhere a run and its steps are both
    locked) and of those steps, so that two parallel steps finishing at once cannot both
    miss the run's end, nor a claimer re-lease a step meanwhile. None: the run is gone, or
    all its steps succeeded."""
    statement = (_LOCK_RUN_STEPS_FOR_UPDATE if connection.dialect.name == "postgresql"
                 else _LOCK_RUN_STEPS)
    status = None
    states = {}
    # Core all the way: no ORM state to load or to flush.
    for run_status, *columns in connection.execute(statement, {"run_id": run_id}):
        status = run_status
        values = dict(zip(_STATE_COLUMNS, columns, strict=True))
        states[values["step_id"]] = StepState(**values, _loaded=values)
    return (status, states) if status is not None else None


@functools.cache
def _write_columns(columns: frozenset[str]) -> Any:
    """The UPDATE of one step's row that sets these columns, built once per set: building a
    statement costs more than running it (a step's completion writes two rows, from a
    handful of column sets)."""
    return update(_steps).where(
        _steps.c.run_id == bindparam("key_run_id"), _steps.c.step_id == bindparam("key_step_id")
    ).values({name: bindparam(f"new_{name}") for name in sorted(columns)})


def save_states(connection: Connection, states: Iterable[StepState],
                extra: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Writes what changed in each state (plus `extra` columns, by step id)."""
    for state in states:
        values = {**state.changes(), **(extra or {}).get(state.step_id, {})}
        if values:
            connection.execute(_write_columns(frozenset(values)), {
                "key_run_id": state.run_id, "key_step_id": state.step_id,
                **{f"new_{name}": value for name, value in values.items()}})


async def outputs(session: AsyncSession, run_id: str) -> dict[str, dict[str, Any]]:
    """What templates see of the run's steps: `steps.<id>.status` and `.output`."""
    rows = await session.execute(select(_steps.c.step_id, _steps.c.status, _steps.c.output)
                                 .where(_steps.c.run_id == run_id))
    return {step_id: {"status": status, "output": output} for step_id, status, output in rows}


def settle(*, definition: Definition, run_status: str, steps: Mapping[str, StepState],
           now: datetime) -> tuple[str, str | None] | None:
    """Readies the steps whose needs all succeeded and skips what can no longer run after a
    failure; returns the run's terminal status and error once nothing is left to run.
    `steps` may leave out steps that succeeded (as `lock_run_steps` does)."""
    broken = any(step.status in ("failed", "needs_attention") for step in steps.values())
    for spec in definition.all_steps:
        step = steps.get(spec.id)
        if step is None or step.status != "waiting":
            continue
        needs = [steps[need] for need in definition.needs_of(spec) if need in steps]
        if broken or run_status == "cancelled" or any(
                need.status in STEP_TERMINAL and need.status not in DONE for need in needs):
            step.status, step.finished_at = "skipped", now
        elif all(need.status in DONE for need in needs):
            step.status, step.next_attempt_at = "ready", now
    if broken:
        for step in steps.values():
            if step.status == "ready":
                step.status, step.finished_at = "skipped", now
    if any(step.status not in STEP_TERMINAL for step in steps.values()):
        return None
    if run_status in RUN_TERMINAL:
        return None
    statuses = {step.status for step in steps.values()}
    if "needs_attention" in statuses:
        status = "needs_attention"
    elif "failed" in statuses:
        status = "failed"
    elif "cancelled" in statuses:
        status = "cancelled"
    else:
        status = "succeeded"  # not_taken steps count as done
    failed = next((s for s in sorted(steps.values(), key=lambda s: s.position)
                   if s.status in ("failed", "needs_attention")), None)
    error = f"step {failed.step_id}: {failed.error}" if failed and failed.error else None
    return status, error


def take_branch(*, definition: Definition, steps: Mapping[str, StepState], condition_id: str,
                branch: str, now: datetime) -> None:
    """A condition chose `branch`: the steps of its other branch end `not_taken` (nested
    blocks inside it included). They have not started, so all of them are in `steps`."""
    for spec in definition.all_steps:
        step = steps.get(spec.id)
        if (step is not None and step.status == "waiting"
                and definition.inside(spec.id, condition_id)
                and not definition.inside(spec.id, condition_id, branch)):
            step.status, step.finished_at = "not_taken", now


def rearm_loop(*, connection: Connection, definition: Definition, run_id: str,
               loop_id: str, iteration: int, at: datetime) -> list[str]:
    """Starts pass `iteration` of a loop: its steps (and the loop step, which checks again
    after them) become new again, the first ready at `at`. Each pass's steps get their own
    idempotency key (WF-5): a pass is a new call, not a retry of the last one. Returns the
    steps set back."""
    body = [spec for spec in definition.all_steps if definition.inside(spec.id, loop_id)]
    first = body[0].id
    for spec in [*body, definition.step(loop_id)]:
        connection.execute(update(_steps).where(
            _steps.c.run_id == run_id, _steps.c.step_id == spec.id).values(
            status="ready" if spec.id == first else "waiting", attempt=0, iteration=iteration,
            inputs=None, output=None, error=None, connection_id=None, lease_owner=None,
            lease_expires_at=None, next_attempt_at=at, started_at=None, finished_at=None,
            duration_ms=None, idempotency_key=idempotency_key(run_id, spec.id, iteration)))
    return [spec.id for spec in body] + [loop_id]


def idempotency_key(run_id: str, step_id: str, iteration: int = 0) -> str:
    """WF-5: stable across a step's attempts; a loop's later passes add their number."""
    return f"{run_id}:{step_id}" + (f":{iteration}" if iteration else "")


async def finish(
    *, session: AsyncSession, run: Run, status: str, error: str | None, workflow_name: str,
    now: datetime | None = None,
) -> None:
    """Gives the run its terminal status and tells the incident's timeline."""
    await session.run_sync(lambda sync: finish_sync(
        session=sync, run=run, status=status, error=error, workflow_name=workflow_name,
        now=now))


def finish_sync(
    *, session: Session, run: Run, status: str, error: str | None, workflow_name: str,
    now: datetime | None = None,
) -> None:
    """`finish` inside synchronous work (`Database.run_sync_transaction`)."""
    now = now or utcnow()
    run.status, run.finished_at = status, now
    run.error = error[:2000] if error else None
    incident = session.get(Incident, run.incident_id)
    if incident is None:
        return
    words = {"succeeded": "succeeded", "failed": "failed", "cancelled": "was cancelled",
             "needs_attention": "needs attention"}[status]
    summary = f"Workflow {workflow_name!r} {words}." + (f" {run.error}" if run.error else "")
    timeline.record(session=session, incident=incident, type_=RUN_LOG_ENTRY,
                    agent=workflow_agent(run.workflow_id, workflow_name), summary=summary,
                    details={"run_id": run.id, "status": status}, at=now)


async def cancel(*, session: AsyncSession, run: Run, workflow_name: str) -> None:
    """Stops a run: nothing more is claimed, and a running step's late result is dropped."""
    if run.status in RUN_TERMINAL:
        return
    now = utcnow()
    await session.execute(
        update(RunStep).where(RunStep.run_id == run.id, RunStep.status.not_in(STEP_TERMINAL))
        .values(status="cancelled", finished_at=now, lease_owner=None))
    await finish(session=session, run=run, status="cancelled", error="cancelled by a user",
                 workflow_name=workflow_name, now=now)


def step_summary(workflow_name: str, step: StepState) -> dict[str, Any]:
    summary = {"run_id": step.run_id, "step_id": step.step_id, "action": step.action,
               "status": step.status, "attempt": step.attempt}
    if step.iteration:
        summary["iteration"] = step.iteration
    return summary
