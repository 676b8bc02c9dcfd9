"""WF-3/WF-4 under real crashes, on PostgreSQL: `fireline worker` processes are SIGKILLed at
random moments with incidents waiting; afterwards every run has ended, each started
exactly once (WF-1, WF-2), and no step's effect or completion happened twice."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fireline.accounts import service as accounts
from fireline.accounts.permissions import Principal
from fireline.core import migrate
from fireline.core.db import Database
from fireline.incidents import catalog, lifecycle
from fireline.incidents.lifecycle import NewIncident
from fireline.incidents.models import LogEntry, Note
from fireline.incidents.schemas import ServiceFields
from fireline.incidents.timeline import Agent
from fireline.settings import Settings
from fireline.workflows import service
from fireline.workflows.models import Run, RunStep
from tests.conftest import PostgresServer

INCIDENTS = 150
KILL_FOR_SECONDS = 20.0
ROOT = Path(__file__).resolve().parents[2]
STEPS = [
    {"id": "a", "action": "fireline.noop"},
    {"id": "one", "action": "fireline.add_note", "with": {"content": "one {{ incident.title }}"}},
    {"id": "b", "action": "fireline.noop"},
    {"id": "two", "action": "fireline.add_note", "with": {"content": "two"}},
    {"id": "c", "action": "fireline.noop", "needs": ["a"]},
    {"id": "d", "action": "fireline.noop", "needs": ["two", "c"]},
]


@pytest.fixture
async def pg_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    name = await postgres_server.create()
    url = Settings.from_env({"FIRELINE_DATABASE_URL": postgres_server.url_for(name)}
                            ).database_url
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        yield url
    finally:
        await postgres_server.drop(name)


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "fireline", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_wf3_wf4_sigkilled_workers_lose_nothing_and_repeat_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    db = Database(pg_url)
    async with db.transaction() as session:
        owner = await accounts.create_user(session=session, email="o@example.com", name="O",
                                           role="owner")
        await service.save_workflow(
            session=session, principal=Principal(owner, False, "session", "test"),
            data={"name": "Crash test", "steps": STEPS,
                  "trigger": {"type": "conditional", "on": ["incident.triggered"]}})
        svc = await catalog.create_service(session=session, data=ServiceFields(name="S"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env.update(FIRELINE_HOME=str(tmp_path), FIRELINE_DATABASE_URL=pg_url,
               FIRELINE_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
               FIRELINE_WORKFLOW_LEASE_SECONDS="2", PYTHONPATH=str(ROOT / "src"))
    async with db.transaction() as session:
        for number in range(INCIDENTS):
            await lifecycle.open_incident(session=session, agent=Agent.user(owner), data=(
                NewIncident(service=svc, title=f"incident {number}", urgency="high",
                            incident_key=f"k{number}")))
    chaos = random.Random(20261123)
    workers = [_worker(env) for _ in range(3)]
    kills = 0
    try:
        stop_killing = time.monotonic() + KILL_FOR_SECONDS
        while time.monotonic() < stop_killing:
            await asyncio.sleep(chaos.uniform(0.0, 0.5))
            async with db.session() as session:
                owners = set(await session.scalars(select(RunStep.lease_owner).where(
                    RunStep.status == "running")))
                done = await session.scalar(select(func.count()).select_from(RunStep).where(
                    RunStep.status == "succeeded"))
            if done == INCIDENTS * len(STEPS):
                break
            if not owners:
                continue
            # Prefer a worker holding a lease right now: it dies mid-step.
            holding = [i for i, w in enumerate(workers)
                       if any(f":{w.pid}:" in (owner or "") for owner in owners)]
            victim = chaos.choice(holding) if holding else chaos.randrange(len(workers))
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait()
            kills += 1
            workers[victim] = _worker(env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            async with db.session() as session:
                runs = await session.scalar(select(func.count()).select_from(Run))
                unfinished = await session.scalar(select(func.count()).select_from(Run).where(
                    Run.status.not_in(("succeeded", "failed", "cancelled", "needs_attention"))))
            if runs == INCIDENTS and unfinished == 0:
                break
            await asyncio.sleep(0.5)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
    try:
        async with db.session() as session:
            statuses = Counter(await session.scalars(select(Run.status)))
            # WF-1/WF-2: one run per incident, however often the relay died mid-batch.
            per_incident = Counter(await session.scalars(select(Run.incident_id)))
            steps = Counter(await session.scalars(select(RunStep.status)))
            retried = await session.scalar(select(func.count()).select_from(RunStep).where(
                RunStep.attempt > 1))
            notes = Counter(await session.execute(select(Note.incident_id, Note.content)))
            step_entries = Counter(await session.scalars(select(LogEntry.incident_id).where(
                LogEntry.type == "workflow_step_log_entry")))
        assert kills >= 1 and retried, (kills, retried)  # leases did expire mid-step
        assert statuses == {"succeeded": INCIDENTS}, statuses
        assert len(per_incident) == INCIDENTS and set(per_incident.values()) == {1}
        assert steps == {"succeeded": INCIDENTS * len(STEPS)}
        # WF-4: each note (an effect) and each step's completion (its timeline entry) once.
        assert len(notes) == INCIDENTS * 2 and set(notes.values()) == {1}, notes
        assert set(step_entries.values()) == {len(STEPS)} and len(step_entries) == INCIDENTS
    finally:
        await db.dispose()
