"""The workflow engine: the outbox relay, step workers and the deadline sweeper ("Nothing
lost", WF-1..9).

- Relay: claims outbox events (`outbox.claim`) and, in the same transaction that marks them
  processed, creates a run for every enabled conditional workflow whose trigger matches
  (WF-1); the unique (workflow, event) pair makes a replay create nothing (WF-2). A
  workflow's own changes never trigger that same workflow again (no loops).
- Workers claim runnable steps with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's
  single writer serializes claimers) and heartbeat it while the action runs. A step whose
  lease expired is claimed again by anyone (WF-3) — unless its action is not idempotent:
  its outcome is unknown, so it is parked as `needs_attention` (WF-6).
- Completion is one transaction that first reads the run's status and its steps under their
  row locks (PostgreSQL; SQLite's single writer holds all) and records the result only if
  the step is still `running` under this worker's lease and attempt: a stale worker's late
  result changes nothing and is dropped (WF-4). The same transaction settles the run and
  leases its next due step to this worker, which runs it at once (no claim in between).
  It is a handful of Core statements on purpose: this is the per-step overhead.
- Inputs are rendered once and persisted before the first external call (WF-9); the action
  gets the idempotency key `run_id:step_id` (WF-5). Built-in actions run inside the
  completion transaction, so their effect commits exactly once with the step's success.
- Failures: TransientError is retried with exponential back-off and full jitter, never
  sooner than its `retry_after` (WF-8); CredentialError is not retried and marks the
  connection Unhealthy; a non-idempotent action that timed out after sending parks the
  step as `needs_attention` (WF-6). ACL-3: before an integration step runs, the workflow's
  last editor must still be allowed to select the connection; otherwise the step fails and
  an audit event says why.
- Every action run against a tool writes an audit event (AUD-1); every step's end and the
  run's end are written to the incident's timeline; outputs are scrubbed of registered
  secrets and capped.
- Per-connection concurrency: at most `connection_concurrency` steps run through one
  connection at once, across all workers and nodes. A step is admitted by a transaction that
  counts the steps holding that connection under a live lease (serialized per connection: a
  transaction-scoped advisory lock on PostgreSQL, the single writer on SQLite). A step over
  the limit goes back to `ready` a moment later without spending an attempt: it waits, it
  does not fail. A holder's slot is freed by its completion or by its lease expiring.
- Sweeper: a run past its deadline is failed with a reason (WF-7).
- Loops poll, and are woken early by new work (`wakeup`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import and_, func, not_, or_, select, update
from sqlalchemy import event as orm_events
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from fireline.accounts.models import User
from fireline.connections import health
from fireline.connections import tokens as oauth_tokens
from fireline.connections.models import Connection
from fireline.connections.tools import Tools, parse_networks
from fireline.core import audit
from fireline.core.clock import utcnow
from fireline.core.db import Database, dialect_name
from fireline.core.errors import (
    ApiError,
    CredentialError,
    IntegrationError,
    TransientError,
    located_messages,
)
from fireline.core.ids import new_token
from fireline.core.logging import get_logger
from fireline.core.redaction import registry as secrets_registry
from fireline.egress.retry import backoff
from fireline.incidents import outbox, timeline
from fireline.incidents.models import Incident, OutboxEvent
from fireline.integrations import registry
from fireline.vault.sealing import VaultError
from fireline.workflows import runs, service, templates, triggers
from fireline.workflows.builtins import (
    BUILTINS,
    BuiltinContext,
    ConditionInput,
    LoopUntilInput,
    Parked,
)
from fireline.workflows.definitions import (
    BUILTIN_PREFIX,
    CONDITION,
    LOGIC_BLOCKS,
    Definition,
    Step,
    find_action,
)
from fireline.workflows.models import RUN_TERMINAL, Run, RunStep, Workflow, WorkflowVersion

log = get_logger("fireline.workflows.engine")

OUTPUT_CAP_BYTES = 64 * 1024
# A workflow's change may start other workflows, whose changes may start others: this deep.
MAX_CHAIN_DEPTH = 3
_MAX_BACKOFF = 3600.0
_POISON_ATTEMPTS = 12
# How long a step that found its connection at its concurrency limit waits before it is
# claimed again (plus jitter, so that waiting steps do not all come back at once).
CONNECTION_BUSY_WAIT = 1.0
_UNKNOWN_OUTCOME = ("The worker running this non-idempotent action was lost; whether it took "
                    "effect is unknown, so it is not retried")


@dataclass(frozen=True)
class Claimed:
    run_id: str
    step_id: str
    attempt: int
    action: str
    inputs: dict[str, Any] | None
    iteration: int  # of the loop the step is in (WF-5: each pass has its own key)
    # The previous lease expired: a worker died (or stalled) mid-step.
    lease_was_lost: bool


@dataclass
class Outcome:
    # succeeded | retry | failed | needs_attention | wait (connection busy) | parked (a logic
    # step not done yet: ready again at `until`, its attempt not counted) | loop (a loop's
    # steps run again, from `until`)
    status: str
    output: Any = None
    error: str | None = None
    retry_after: float | None = None
    connection_id: str | None = None
    unhealthy: bool = False
    audit_outcome: str | None = None  # set for actions run against a tool (AUD-1)
    until: datetime | None = None  # parked until


@dataclass(frozen=True)
class RunFacts:
    """What a run's steps need that does not change while it runs, read once for each chain
    of its steps a worker runs. (Its status is not among them: completion reads it every
    time, under the run's lock.)"""

    run_id: str
    workflow_id: str
    workflow_name: str
    updated_by_id: str | None
    created_by_id: str | None
    definition: Definition
    incident_id: str
    service_id: str | None  # None: the incident is gone
    started_by_id: str | None
    trigger_event_id: int | None


# Facts by run id, for one chain of steps (`Engine.execute`).
Chain = dict[str, RunFacts]
# A run's status, its unfinished steps by id, and the step being completed (`_locked`).
Locked = tuple[str, dict[str, runs.StepState], runs.StepState]


def _needs_nothing(action: str) -> bool:
    """A built-in that reads and changes nothing (the no-op): its outcome is known without
    the incident, the session or a rendered input."""
    prefix, _, name = action.partition(".")
    builtin = BUILTINS.get(name) if prefix == BUILTIN_PREFIX else None
    return builtin is not None and builtin.run is None and action not in LOGIC_BLOCKS


def _nothing_done(action: str, inputs: dict[str, Any]) -> Outcome:
    builtin = BUILTINS[action.partition(".")[2]]
    try:
        builtin.input.model_validate(inputs)
    except ValidationError as exc:
        return Outcome("failed", error="inputs: " + "; ".join(located_messages(exc, "")))
    return Outcome("succeeded", output=builtin.output().model_dump(mode="json"))


def cap_output(value: Any) -> Any:
    """Scrubs registered secrets and keeps the JSON under OUTPUT_CAP_BYTES, shortening the
    longest lists first so that small fields (`total`) stay usable by later steps."""
    value = secrets_registry.scrub_value(value)
    size = len(json.dumps(value, default=str))
    if size <= OUTPUT_CAP_BYTES:
        return value
    if isinstance(value, dict):
        trimmed = dict(value)
        while len(json.dumps(trimmed, default=str)) > OUTPUT_CAP_BYTES:
            lists = [key for key, item in trimmed.items() if isinstance(item, list) and item]
            if not lists:
                break
            longest = max(lists, key=lambda key: len(json.dumps(trimmed[key], default=str)))
            trimmed[longest] = trimmed[longest][: len(trimmed[longest]) // 2]
        trimmed["_truncated"] = True
        if len(json.dumps(trimmed, default=str)) <= OUTPUT_CAP_BYTES:
            return trimmed
    text = json.dumps(value, default=str)
    return {"_truncated": True, "bytes": size, "preview": text[: OUTPUT_CAP_BYTES // 4]}


def _connection_lock_key(connection_id: str) -> int:
    """A signed 64-bit key for `pg_advisory_xact_lock`, stable across processes."""
    digest = hashlib.sha256(f"fireline.connection_slots:{connection_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{new_token(4)}"


@dataclass
class Engine:
    db: Database
    tools: Tools
    worker_id: str = field(default_factory=_worker_id)
    lease_seconds: float = 30.0
    batch: int = 16
    # Steps running at once through one connection, across all engines (the setting).
    connection_concurrency: int = 4
    clock: Callable[[], datetime] = utcnow
    random: Callable[[], float] = random.random
    _definitions: dict[tuple[str, int], Definition] = field(default_factory=dict)

    # Relay --------------------------------------------------------------------------------

    async def relay_once(self, limit: int = 100) -> int:
        """Turns pending outbox events into runs; returns how many events it consumed."""
        async with self.db.transaction() as session:
            events = await outbox.claim(session=session, limit=limit)
            if not events:
                return 0
            workflows = [
                workflow for workflow in await session.scalars(
                    select(Workflow).where(Workflow.enabled.is_(True)))
                if triggers.is_automatic(workflow.trigger)
            ]
            if not workflows:
                return len(events)
            present = set(await session.scalars(select(Incident.id).where(
                Incident.id.in_({event.incident_id for event in events}))))
            before = await self._snapshots_before(session, events) if any(
                triggers.on_transitions(workflow.trigger) for workflow in workflows) else {}
            now = self.clock()
            for event in events:
                if event.incident_id not in present:
                    continue
                for workflow in workflows:
                    if self._starts(workflow, event, before.get(event.id)):
                        definition = await session.run_sync(
                            self._definition, workflow.id, workflow.current_version)
                        await runs.create_run(
                            session=session, workflow=workflow, definition=definition,
                            incident_id=event.incident_id, trigger_event_id=event.id, now=now)
            return len(events)

    @staticmethod
    async def _snapshots_before(session: AsyncSession, events: list[OutboxEvent]
                                ) -> dict[int, dict[str, Any]]:
        """For each event, the incident as the event before it (same incident) recorded it;
        none for an incident's first event.

        A "when conditions are met" trigger fires on the event that turns its condition from
        false to true. Deciding that from the two snapshots, not from state the relay keeps,
        makes the answer a function of the outbox alone: relays on several nodes may handle
        one incident's events in any order, and a replayed event decides the same again. The
        outbox order is the incidents' write order because writers lock the incident row
        before they change it (`incidents.access.visible_incident(for_update=True)`)."""
        found: dict[int, dict[str, Any]] = {}
        last: dict[str, dict[str, Any]] = {}
        for event in sorted(events, key=lambda item: item.id):
            previous = last.get(event.incident_id)
            if previous is None:
                payload = await session.scalar(
                    select(OutboxEvent.payload).where(
                        OutboxEvent.incident_id == event.incident_id,
                        OutboxEvent.id < event.id)
                    .order_by(OutboxEvent.id.desc()).limit(1))
                previous = payload.get("incident", {}) if payload else None
            if previous is not None:
                found[event.id] = previous
            last[event.incident_id] = event.payload.get("incident", {})
        return found

    @staticmethod
    def _starts(workflow: Workflow, event: OutboxEvent,
                before: dict[str, Any] | None) -> bool:
        origin = event.payload.get("origin", {})
        if origin.get("workflow_id") == workflow.id:
            return False  # its own change: running again would loop
        if int(origin.get("depth", 0)) >= MAX_CHAIN_DEPTH:
            return False  # workflows triggering each other in a ring stop here
        snapshot = event.payload.get("incident", {})
        trigger = workflow.trigger
        if triggers.on_transitions(trigger):
            return triggers.holds(trigger, snapshot) and not (
                before is not None and triggers.holds(trigger, before))
        return triggers.starts_on(trigger, event.kind, snapshot)

    def _definition(self, session: Session, workflow_id: str, version: int) -> Definition:
        key = (workflow_id, version)
        if key not in self._definitions:  # versions are immutable: safe to keep
            row = session.get(WorkflowVersion, key)
            assert row is not None
            self._definitions[key] = Definition.model_validate(row.definition)
        return self._definitions[key]

    # Claiming -----------------------------------------------------------------------------

    async def claim(self, limit: int | None = None) -> list[Claimed]:
        now = self.clock()
        async with self.db.transaction() as session:
            statement = (
                select(RunStep)
                .where(or_(
                    and_(RunStep.status == "ready", RunStep.next_attempt_at <= now),
                    and_(RunStep.status == "running", RunStep.lease_expires_at < now),
                ))
                .order_by(RunStep.next_attempt_at, RunStep.run_id, RunStep.position)
                .limit(limit or self.batch)
            )
            if dialect_name(session) == "postgresql":
                statement = statement.with_for_update(skip_locked=True)
            steps = list(await session.scalars(statement))
            claimed = []
            for step in steps:
                lost = step.status == "running"
                self._lease(step, now)
                claimed.append(Claimed(step.run_id, step.step_id, step.attempt, step.action,
                                       step.inputs, step.iteration, lost))
        return claimed

    def _lease(self, step: RunStep | runs.StepState, now: datetime) -> None:
        step.status, step.attempt = "running", step.attempt + 1
        step.lease_owner = self.worker_id
        step.lease_expires_at = now + timedelta(seconds=self.lease_seconds)
        step.started_at = step.started_at or now
        # Set again when this attempt is admitted to its connection: until then it holds no
        # slot there (an earlier attempt's connection must not count against the limit).
        step.connection_id = None

    def _holds(self, step: RunStep | runs.StepState, claimed: Claimed) -> bool:
        return (step.lease_owner == self.worker_id and step.attempt == claimed.attempt
                and step.status == "running")

    def _guard(self, claimed: Claimed) -> Any:
        return and_(
            RunStep.run_id == claimed.run_id, RunStep.step_id == claimed.step_id,
            RunStep.lease_owner == self.worker_id, RunStep.attempt == claimed.attempt,
            RunStep.status == "running",
        )

    async def extend_lease(self, claimed: Claimed) -> bool:
        """One heartbeat; False when the lease is no longer this worker's."""
        async with self.db.transaction() as session:
            result = await session.execute(
                update(RunStep).where(self._guard(claimed)).values(
                    lease_expires_at=self.clock() + timedelta(seconds=self.lease_seconds)))
        return bool(getattr(result, "rowcount", 1))

    async def _heartbeat(self, claimed: Claimed) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            if not await self.extend_lease(claimed):
                return  # lost the lease: the result will be dropped at completion

    # Running ------------------------------------------------------------------------------

    def _facts(self, session: Session, run_id: str, chain: Chain) -> RunFacts | None:
        if run_id in chain:
            return chain[run_id]
        row = (session.execute(
            select(Run.workflow_id, Run.version, Run.incident_id, Run.started_by_id,
                   Run.trigger_event_id, Workflow.name, Workflow.updated_by_id,
                   Workflow.created_by_id, Incident.service_id)
            .join(Workflow, Workflow.id == Run.workflow_id)
            .outerjoin(Incident, Incident.id == Run.incident_id)
            .where(Run.id == run_id))).one_or_none()
        if row is None:
            return None
        definition = self._definition(session, row.workflow_id, row.version)
        facts = RunFacts(
            run_id=run_id, workflow_id=row.workflow_id, workflow_name=row.name,
            updated_by_id=row.updated_by_id, created_by_id=row.created_by_id,
            definition=definition, incident_id=row.incident_id, service_id=row.service_id,
            started_by_id=row.started_by_id, trigger_event_id=row.trigger_event_id)
        chain[run_id] = facts
        return facts

    async def _render(self, session: AsyncSession, facts: RunFacts, step: Step
                      ) -> dict[str, Any]:
        if not templates.is_templated(step.with_):
            return dict(step.with_)  # nothing to look up
        rendered = templates.render(step.with_, await self._scope(session, facts))
        assert isinstance(rendered, dict)
        return rendered

    async def _scope(self, session: AsyncSession, facts: RunFacts) -> dict[str, Any]:
        """What templates and logic expressions see: the incident now, earlier steps, and
        PagerDuty's `current_date` (ISO 8601, UTC)."""
        incident = await session.get(Incident, facts.incident_id)
        return {
            "current_date": self.clock().date().isoformat(),
            "incident": outbox.snapshot(incident) if incident else {},
            "steps": await runs.outputs(session, facts.run_id),
            "run": {"id": facts.run_id},
            "workflow": {"id": facts.workflow_id, "name": facts.workflow_name},
        }

    async def _run_logic(self, session: AsyncSession, facts: RunFacts, spec: Step,
                         step: runs.StepState, inputs: dict[str, Any]) -> Outcome:
        """A condition picks its branch; a loop ends, or asks for another pass (`loop`)."""
        model = ConditionInput if spec.action == CONDITION else LoopUntilInput
        try:
            data = model.model_validate(inputs)
            holds = templates.evaluate(data.expression, await self._scope(session, facts))
        except ValidationError as exc:
            return Outcome("failed", error="inputs: " + "; ".join(located_messages(exc, "")))
        except templates.TemplateFailure as exc:
            return Outcome("failed", error=f"expression: {exc}")
        if spec.action == CONDITION:
            return Outcome("succeeded", output={"holds": holds,
                                                "branch": "then" if holds else "else"})
        passes = step.iteration + 1
        if holds:
            return Outcome("succeeded", output={"iterations": passes})
        assert isinstance(data, LoopUntilInput)
        if passes >= data.max_iterations:
            return Outcome("failed", error=f"Still not true after {passes} passes")
        return Outcome("loop", until=self.clock() + timedelta(seconds=data.interval_seconds))

    def _next_pass(self, connection: SyncConnection, facts: RunFacts,
                   steps: dict[str, runs.StepState], loop: runs.StepState,
                   at: datetime) -> None:
        again = runs.rearm_loop(
            connection=connection, definition=facts.definition, run_id=loop.run_id,
            loop_id=loop.step_id, iteration=loop.iteration + 1, at=at)
        for step_id in again:  # written by rearm_loop: not to be written back
            steps.pop(step_id, None)
        if facts.service_id is not None:
            timeline.insert_sync(
                connection=connection,
                incident=timeline.IncidentKeys(facts.incident_id, facts.service_id),
                type_=runs.STEP_LOG_ENTRY,
                agent=runs.workflow_agent(facts.workflow_id, facts.workflow_name),
                summary=(f"Workflow {facts.workflow_name!r}: loop {loop.step_id} pass "
                         f"{loop.iteration + 1} did not end it; pass {loop.iteration + 2} "
                         "follows."),
                details={**runs.step_summary(facts.workflow_name, loop), "status": "looped"},
                at=self.clock())

    async def execute(self, claimed: Claimed) -> bool:
        """Runs a claimed step to its recorded end, then the steps of its run that this made
        runnable, while there are any; False when the first step's result was dropped."""
        chain: Chain = {}
        recorded, following = await self._execute_one(claimed, chain)
        while following is not None:
            _, following = await self._execute_one(following, chain)
        return recorded

    async def _execute_one(self, claimed: Claimed, chain: Chain
                           ) -> tuple[bool, Claimed | None]:
        spec = find_action(claimed.action)
        started = time.perf_counter()
        if spec is None:  # its tool was removed from this build since the workflow was saved
            return await self._complete(
                claimed, Outcome("failed", error=f"Unknown action {claimed.action!r}"), started,
                chain)
        if claimed.lease_was_lost and claimed.attempt > _POISON_ATTEMPTS:
            # Retries stop at 10 attempts: beyond that, workers keep dying on this step.
            return await self._complete(claimed, Outcome("failed", error=(
                f"Workers were lost {claimed.attempt - 1} times running this step")), started,
                chain)
        if spec.builtin:
            return await self._complete(claimed, None, started, chain)
        if claimed.lease_was_lost and not spec.idempotent:
            return await self._complete(
                claimed, Outcome("needs_attention", error=_UNKNOWN_OUTCOME), started, chain)
        inputs = claimed.inputs
        if inputs is None:
            async with self.db.transaction() as session:
                facts = await session.run_sync(self._facts, claimed.run_id, chain)
                if facts is None:
                    return False, None
                failure: Outcome | None = None
                try:
                    inputs = await self._render(
                        session, facts, facts.definition.step(claimed.step_id))
                except templates.TemplateFailure as exc:
                    failure = Outcome("failed", error=f"inputs: {exc}")
                else:
                    # WF-9: stored before anything leaves; retries use these exact inputs.
                    stored = await session.execute(
                        update(RunStep).where(self._guard(claimed))
                        .values(inputs=secrets_registry.scrub_value(inputs)))
                    if not getattr(stored, "rowcount", 1):
                        return False, None  # the lease is gone: not ours to run (WF-4)
            if failure is not None:
                return await self._complete(claimed, failure, started, chain)
        heartbeat = asyncio.create_task(self._heartbeat(claimed))
        try:
            outcome = await self._run_integration(claimed, inputs or {}, chain)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        if outcome.status == "wait":
            await self._wait_for_connection(claimed)
            return False, None
        return await self._complete(claimed, outcome, started, chain)

    async def _run_integration(self, claimed: Claimed, inputs: dict[str, Any], chain: Chain
                               ) -> Outcome:
        spec = find_action(claimed.action)
        assert spec is not None and spec.integration is not None
        integration = registry.get(spec.integration)
        assert integration is not None
        action = integration.action(claimed.action.partition(".")[2])
        assert action is not None
        async with self.db.session() as session:
            facts = await session.run_sync(self._facts, claimed.run_id, chain)
            # Read now, not from the chain's facts: ACL-3 is about the workflow's editor now.
            workflow = await session.get(Workflow, facts.workflow_id) if facts else None
            if facts is None or workflow is None:
                return Outcome("failed", error="the run no longer exists")
            step = facts.definition.step(claimed.step_id)
            editor_id = workflow.updated_by_id or workflow.created_by_id
            editor_user = await session.get(User, editor_id) if editor_id else None
            found = await service.resolve_connection(
                session=session, integration=integration.slug, reference=step.connection)
            if found is None:
                return Outcome("failed", error=(
                    f"No {integration.title} connection "
                    + ("is the default" if step.connection == "default"
                       else f"{step.connection!r}")))
            connection, team_ids = found
            # ACL-3: checked again now, against the workflow's last editor.
            editor = await service.editor_for(session=session, user=editor_user
                                              ) if editor_user else None
            if editor is None or not editor.may_select(team_ids):
                return Outcome("failed", connection_id=connection.id, audit_outcome="denied",
                               error=f"The workflow's last editor may not use connection "
                                     f"{connection.id!r} (ACL-3)")
        try:
            config = integration.config.model_validate(connection.configuration)
            # Outside the session: an OAuth tool's tokens are refreshed first when about to
            # expire, which calls the provider.
            secrets = integration.secrets.model_validate(await oauth_tokens.current_secrets(
                db=self.db, tools=self.tools, integration=integration, connection=connection))
        except VaultError:
            return Outcome("failed", connection_id=connection.id, audit_outcome="failure",
                           error="The connection's stored credentials cannot be read")
        except ValidationError:
            return Outcome("failed", connection_id=connection.id, audit_outcome="failure",
                           error="The connection's stored configuration is not valid")
        except CredentialError as exc:  # WF-8: the provider refused the refresh
            return Outcome("failed", connection_id=connection.id, audit_outcome="failure",
                           error=str(exc), unhealthy=True)
        try:
            data = action.input.model_validate(inputs)
        except ValidationError as exc:
            problems = "; ".join(located_messages(exc, ""))
            return Outcome("failed", connection_id=connection.id, error=f"inputs: {problems}")
        if not await self._admit(claimed, connection.id):
            return Outcome("wait", connection_id=connection.id)
        base = Outcome("failed", connection_id=connection.id, audit_outcome="failure")
        try:
            async with self.tools.context(
                integration, connection_id=connection.id, config=config, secrets=secrets,
                external_id=connection.external_id,
                allow_private=parse_networks(list(connection.allow_private)),
                idempotency_key=runs.idempotency_key(  # WF-5
                    claimed.run_id, claimed.step_id, claimed.iteration),
            ) as tool:
                # asyncio.timeout: wait_for (Python 3.11) can swallow a shutdown's cancel.
                async with asyncio.timeout(step.timeout_seconds):
                    result: BaseModel = await action.run(tool, data)
        except TimeoutError:
            base.error = f"No result within {step.timeout_seconds} seconds"
            base.status = "retry" if action.idempotent else "needs_attention"  # WF-6
        except CredentialError as exc:
            base.error, base.unhealthy = str(exc), True  # WF-8: not retried
        except TransientError as exc:
            base.error, base.retry_after = str(exc), exc.retry_after
            unknown = exc.outcome_unknown and not action.idempotent
            base.status = "needs_attention" if unknown else "retry"  # WF-6
        except IntegrationError as exc:
            base.error = str(exc) or type(exc).__name__
        except Exception:  # an integration bug fails the step, not the worker
            log.exception("action_crashed", action=claimed.action, run_id=claimed.run_id)
            base.error = "The action failed unexpectedly"
        else:
            return Outcome("succeeded", output=result.model_dump(mode="json"),
                           connection_id=connection.id, audit_outcome="success")
        return base

    async def _admit(self, claimed: Claimed, connection_id: str) -> bool:
        """Takes one of the connection's slots for this attempt; False when they are all
        held (or this worker's lease is gone, when the step is not its to run)."""
        now = self.clock()
        async with self.db.transaction() as session:
            if dialect_name(session) == "postgresql":
                # Admissions to one connection take turns, so two workers cannot both see
                # the last free slot; released at commit. (SQLite: BEGIN IMMEDIATE does it.)
                await session.execute(select(func.pg_advisory_xact_lock(
                    _connection_lock_key(connection_id))))
            held = await session.scalar(
                select(func.count()).select_from(RunStep).where(
                    RunStep.status == "running", RunStep.connection_id == connection_id,
                    RunStep.lease_expires_at >= now,
                    not_(and_(RunStep.run_id == claimed.run_id,
                              RunStep.step_id == claimed.step_id))))
            if (held or 0) >= self.connection_concurrency:
                return False
            taken = await session.execute(
                update(RunStep).where(self._guard(claimed)).values(connection_id=connection_id))
        return bool(getattr(taken, "rowcount", 1))

    async def _wait_for_connection(self, claimed: Claimed) -> None:
        """Puts a step that was not admitted back in the queue: not an attempt, not a
        failure."""
        delay = CONNECTION_BUSY_WAIT * (1 + self.random())
        async with self.db.transaction() as session:
            await session.execute(update(RunStep).where(self._guard(claimed)).values(
                status="ready", attempt=RunStep.attempt - 1, lease_owner=None,
                lease_expires_at=None,
                next_attempt_at=self.clock() + timedelta(seconds=delay)))

    async def _run_builtin(
        self, session: AsyncSession, facts: RunFacts, claimed: Claimed, inputs: dict[str, Any],
        started_at: datetime,
    ) -> Outcome:
        builtin = BUILTINS[claimed.action.partition(".")[2]]
        try:
            data = builtin.input.model_validate(inputs)
        except ValidationError as exc:
            problems = "; ".join(located_messages(exc, ""))
            return Outcome("failed", error=f"inputs: {problems}")
        assert builtin.run is not None  # the no-op's kind never comes here (`_needs_nothing`)
        # Locked as every incident writer locks it (`incidents.access.visible_incident`).
        incident = await session.get(Incident, facts.incident_id,
                                     with_for_update={"of": Incident})
        if incident is None:
            return Outcome("failed", error="The incident no longer exists")
        user_id = facts.started_by_id or facts.updated_by_id or facts.created_by_id
        user = await session.get(User, user_id) if user_id else None
        if user is None:
            return Outcome("failed", error="No user to act for (the workflow's editor is gone)")
        agent = runs.workflow_agent(facts.workflow_id, facts.workflow_name)
        # Events this run causes carry their origin: the relay lets no workflow trigger
        # itself, and no chain of workflows grow past MAX_CHAIN_DEPTH. They are tagged as
        # they are added, before their INSERT.
        origin = {"workflow_id": facts.workflow_id, "run_id": facts.run_id,
                  "depth": await self._depth(session, facts) + 1}

        def tag(_session: Any, obj: object) -> None:
            if isinstance(obj, OutboxEvent):
                obj.payload = {**obj.payload, "origin": origin}

        orm_events.listen(session.sync_session, "transient_to_pending", tag)
        try:
            async with session.begin_nested():
                result = await builtin.run(BuiltinContext(
                    session, incident, user, agent, self.clock(), started_at), data)
                await session.flush()
        except Parked as parked:
            return Outcome("parked", until=parked.until)
        except (IntegrationError, ApiError) as exc:
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            if isinstance(exc, ApiError) and exc.errors:
                message = "; ".join(exc.errors)
            return Outcome("failed", error=message)
        except Exception:  # a bug fails the step (its savepoint undone), not the worker
            log.exception("builtin_crashed", action=claimed.action, run_id=claimed.run_id)
            return Outcome("failed", error="The action failed unexpectedly")
        finally:
            orm_events.remove(session.sync_session, "transient_to_pending", tag)
        return Outcome("succeeded", output=result.model_dump(mode="json"))

    @staticmethod
    async def _depth(session: AsyncSession, facts: RunFacts) -> int:
        """How many workflow runs led to this one's trigger (0: a person or a tool)."""
        if facts.trigger_event_id is None:
            return 0
        event = await session.get(OutboxEvent, facts.trigger_event_id)
        origin = event.payload.get("origin", {}) if event is not None else {}
        return int(origin.get("depth", 0))

    # Completion ---------------------------------------------------------------------------

    async def _complete(self, claimed: Claimed, outcome: Outcome | None, started: float,
                        chain: Chain) -> tuple[bool, Claimed | None]:
        """Records the outcome (guarded, WF-4) and settles the run; returns whether it was
        recorded and, when the run has a next step due now, that step — already leased to
        this worker in the same transaction, which saves a claim round trip per step.

        When the outcome is known before the transaction (a tool's result, a failure, the
        no-op), the whole transaction is one piece of synchronous work
        (`Database.run_sync_transaction`). A built-in or a logic step runs inside it, with
        the async session, between the guard and the record."""
        if outcome is not None or _needs_nothing(claimed.action):
            return await self.db.run_sync_transaction(
                lambda session: self._record_locked(session, claimed, outcome, started, chain))
        async with self.db.transaction() as session:
            # Locked (PostgreSQL) and read once: the guard, settling and the next lease all
            # work from these rows.
            locked = await session.run_sync(self._locked, claimed)
            facts = await session.run_sync(self._facts, claimed.run_id, chain)
            if locked is None or facts is None:
                return False, None
            step, spec, inputs = locked[2], facts.definition.step(claimed.step_id), None
            try:
                inputs = step.inputs if step.inputs is not None else await self._render(
                    session, facts, spec)
            except templates.TemplateFailure as exc:
                outcome = Outcome("failed", error=f"inputs: {exc}")
            else:
                if spec.action in LOGIC_BLOCKS:
                    outcome = await self._run_logic(session, facts, spec, step, inputs)
                else:
                    outcome = await self._run_builtin(session, facts, claimed, inputs,
                                                      step.started_at or self.clock())
            return await session.run_sync(self._record_locked, claimed, outcome, started,
                                          chain, locked, inputs)

    def _locked(self, session: Session, claimed: Claimed) -> Locked | None:
        """The run's status and its unfinished steps, under their row locks (PostgreSQL),
        when the claimed step is still this worker's to finish (WF-4)."""
        found = runs.lock_run_steps(session.connection(), claimed.run_id)
        run_status, steps = found or ("", {})
        step = steps.get(claimed.step_id)
        if step is None or not self._holds(step, claimed) or run_status in RUN_TERMINAL:
            log.info("stale_result_dropped", run_id=claimed.run_id, step_id=claimed.step_id,
                     attempt=claimed.attempt)  # WF-4
            return None
        return run_status, steps, step

    def _record_locked(
        self, session: Session, claimed: Claimed, outcome: Outcome | None, started: float,
        chain: Chain, locked: Locked | None = None, inputs: dict[str, Any] | None = None,
    ) -> tuple[bool, Claimed | None]:
        """The rest of the completion transaction, synchronous: the outcome recorded, the
        timeline told, the run settled (or ended) and its next due step leased. Without
        `locked`, the guard first; without an outcome, the no-op's (`_needs_nothing`)."""
        locked = locked or self._locked(session, claimed)
        facts = self._facts(session, claimed.run_id, chain)
        if locked is None or facts is None:
            return False, None
        run_status, steps, step = locked
        spec = facts.definition.step(claimed.step_id)
        connection = session.connection()
        if outcome is None:
            inputs = dict(spec.with_)
            outcome = _nothing_done(claimed.action, inputs)
        if inputs is not None:
            step.inputs = secrets_registry.scrub_value(inputs)
        now = self.clock()
        if run_status == "queued":
            run_status = "running"
            runs.mark_running(connection, claimed.run_id, step.started_at or now)
        if outcome.status == "loop" and outcome.until is not None:
            self._next_pass(connection, facts, steps, step, outcome.until)
            runs.save_states(connection, steps.values())
            return True, None
        written = self._record(session, facts, spec, step, outcome, now, started)
        if outcome.unhealthy and outcome.connection_id:  # WF-8
            found = session.get(Connection, outcome.connection_id)
            if found is not None:
                health.apply(session, found, health.Outcome(
                    False, step.error or "credentials refused", 0, now), trigger="workflow",
                    interval=self.tools.settings.health_check_interval)
        following = None
        if step.status != "ready":  # else a retry is scheduled; the run goes on later
            self._tell_timeline(connection, facts, step)
            if spec.action == CONDITION and step.status == "succeeded":
                runs.take_branch(definition=facts.definition, steps=steps,
                                 condition_id=step.step_id,
                                 branch=outcome.output["branch"], now=now)
            ended = runs.settle(definition=facts.definition, run_status=run_status,
                                steps=steps, now=now)
            if ended is not None:
                run = session.get(Run, claimed.run_id)
                assert run is not None  # locked above
                runs.finish_sync(session=session, run=run, status=ended[0], error=ended[1],
                                 workflow_name=facts.workflow_name, now=now)
            else:
                following = self._lease_next(steps, now)
        runs.save_states(connection, steps.values(), {step.step_id: written})
        return True, following

    def _lease_next(self, steps: dict[str, runs.StepState], now: datetime) -> Claimed | None:
        due = [step for step in steps.values() if step.status == "ready"
               and step.next_attempt_at is not None and step.next_attempt_at <= now]
        if not due:
            return None
        step = min(due, key=lambda item: item.position)
        self._lease(step, now)
        return Claimed(step.run_id, step.step_id, step.attempt, step.action, step.inputs,
                       step.iteration, False)

    def _record(self, session: Session, facts: RunFacts, spec: Step,
                step: runs.StepState, outcome: Outcome, now: datetime, started: float
                ) -> dict[str, Any]:
        """Applies the outcome to the step's state; returns the columns it sets that the
        state does not carry (output, duration)."""
        written: dict[str, Any] = {"duration_ms": int((time.perf_counter() - started) * 1000)}
        step.lease_owner, step.lease_expires_at = None, None
        step.connection_id = outcome.connection_id or step.connection_id
        if outcome.status == "succeeded":
            step.status, step.error = "succeeded", None
            written["output"] = cap_output(outcome.output)
        elif outcome.status == "parked" and outcome.until is not None:
            # Waiting is not an attempt: the lease's count is given back.
            step.status, step.next_attempt_at = "ready", outcome.until
            step.attempt -= 1
        elif outcome.status == "retry" and step.attempt < spec.retry.max_attempts:
            delay = backoff(step.attempt, base=spec.retry.backoff, cap=_MAX_BACKOFF,
                            jitter=self.random)
            delay = max(delay, outcome.retry_after or 0.0)  # WF-8: honour Retry-After
            step.status, step.next_attempt_at = "ready", now + timedelta(seconds=delay)
        elif outcome.status == "needs_attention":
            step.status = "needs_attention"
        else:
            step.status = "failed"
        if outcome.error:
            step.error = secrets_registry.scrub(outcome.error)[:2000]
        if step.status != "ready":
            step.finished_at = now
        if outcome.audit_outcome is not None:  # AUD-1: every action run against a tool
            audit.record(
                session, actor_id=facts.updated_by_id,
                actor=f"workflow:{facts.workflow_id}", action="workflow.step.run",
                target_type="connection", target_id=outcome.connection_id,
                outcome=outcome.audit_outcome, message=step.error,
                details={"workflow_id": facts.workflow_id, "run_id": step.run_id,
                         "step_id": step.step_id, "action": step.action,
                         "attempt": step.attempt},
            )
        return written

    @staticmethod
    def _tell_timeline(connection: SyncConnection, facts: RunFacts,
                       step: runs.StepState) -> None:
        if facts.service_id is None:
            return
        summary = (f"Workflow {facts.workflow_name!r}: step {step.step_id} ({step.action}) "
                   f"{step.status.replace('_', ' ')}.")
        if step.error:
            summary += f" {step.error}"
        timeline.insert_sync(
            connection=connection,
            incident=timeline.IncidentKeys(facts.incident_id, facts.service_id),
            type_=runs.STEP_LOG_ENTRY,
            agent=runs.workflow_agent(facts.workflow_id, facts.workflow_name), summary=summary,
            details=runs.step_summary(facts.workflow_name, step), at=step.finished_at)

    # Loops --------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One round: relay events, claim a batch of due steps and run them."""
        relayed = await self.relay_once()
        claimed = await self.claim()
        if claimed:
            await asyncio.gather(*(self.execute(item) for item in claimed))
        return relayed + len(claimed)

    async def drain(self, max_rounds: int = 10_000) -> int:
        """Runs rounds until nothing is due now; returns the work done."""
        total = 0
        for _ in range(max_rounds):
            done = await self.run_once()
            total += done
            if not done:
                return total
        raise RuntimeError("the engine did not drain")

    async def release_predecessor(self, instance_id: str) -> int:
        """Ends at once the leases of steps a dead earlier process of this instance held
        (`workflows.instance`: its slot's lock proves it gone), so they are claimed now
        instead of when the lease runs out; returns how many. Claimed again, they count as
        a lost lease like any other (WF-3, WF-6)."""
        now = self.clock()
        async with self.db.transaction() as session:
            released = await session.execute(
                update(RunStep).where(
                    RunStep.status == "running", RunStep.lease_expires_at >= now,
                    RunStep.lease_owner.startswith(f"{instance_id}:", autoescape=True),
                    RunStep.lease_owner != self.worker_id)
                .values(lease_expires_at=now - timedelta(microseconds=1)))
        count = int(released.rowcount)  # type: ignore[attr-defined]
        if count:
            log.info("workflow_leases_released", instance=instance_id, steps=count)
        return count

    async def sweep_once(self) -> int:
        """WF-7: fails runs that are past their deadline; returns how many."""
        now = self.clock()
        async with self.db.session() as session:
            overdue = list(await session.scalars(select(Run.id).where(
                Run.status.not_in(RUN_TERMINAL), Run.deadline < now).limit(500)))
        for run_id in overdue:
            async with self.db.transaction() as session:
                run = await runs.lock_run(session, run_id)
                if run is None or run.status in RUN_TERMINAL:
                    continue
                workflow = await session.get(Workflow, run.workflow_id)
                name = workflow.name if workflow else run.workflow_id
                await session.execute(
                    update(RunStep).where(RunStep.run_id == run.id,
                                          RunStep.status.in_(("waiting", "ready", "running")))
                    .values(status="cancelled", finished_at=now, lease_owner=None))
                await runs.finish(session=session, run=run, status="failed",
                                  error="The run passed its deadline", workflow_name=name,
                                  now=now)
                log.warning("workflow_run_overdue", run_id=run.id, workflow_id=run.workflow_id)
        return len(overdue)
