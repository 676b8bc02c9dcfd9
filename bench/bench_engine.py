"""Engine: per-step orchestration overhead — a sequential 40-step run of the no-op built-in
(`fireline.noop`), driven by the real engine (claim with a lease, render, run, guarded
completion, timeline entry, settle) — vs the database's own commit rate (one-row UPDATE
transactions) measured in the same run. SQLite always; PostgreSQL when reachable, where
the throughput of several engines sharing the work (20 such runs) is reported too."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg
from sqlalchemy import func, select, text

from bench._runner import commits_per_second, create_commit_table, report
from fireline.accounts import service as accounts
from fireline.accounts.permissions import Principal
from fireline.connections.tools import Tools
from fireline.core import migrate
from fireline.core.db import Database
from fireline.incidents import catalog, lifecycle
from fireline.incidents.lifecycle import NewIncident
from fireline.incidents.schemas import ServiceFields
from fireline.incidents.timeline import Agent
from fireline.settings import Settings
from fireline.vault.keyring import load_keyring
from fireline.vault.sealing import Vault
from fireline.workflows import runs, service
from fireline.workflows.engine import Engine
from fireline.workflows.models import Run, Workflow

STEPS = 40
RUNS = int(os.environ.get("BENCH_ENGINE_RUNS", "5"))
WORKERS = int(os.environ.get("BENCH_ENGINE_WORKERS", "4"))
POSTGRES_URL = os.environ.get(
    "FIRELINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _setup(db: Database) -> tuple[str, str]:
    async with db.transaction() as session:
        owner = await accounts.create_user(session=session, email="o@bench.example", name="O",
                                           role="owner")
        principal = Principal(owner, False, "session", "bench")
        workflow, _ = await service.save_workflow(session=session, principal=principal, data={
            "name": "Bench", "steps": [{"id": f"s{i}", "action": "fireline.noop"}
                                       for i in range(STEPS)]})
        svc = await catalog.create_service(session=session, data=ServiceFields(name="Bench"))
        incident = await lifecycle.open_incident(
            session=session, agent=Agent.user(owner), data=NewIncident(
                service=svc, title="bench", urgency="high", incident_key="bench"))
        assert incident is not None
        return workflow.id, incident.id


async def _engine_steps_per_second(db: Database, tools: Tools) -> float:
    workflow_id, incident_id = await _setup(db)
    engine = Engine(db=db, tools=tools)
    await engine.drain()  # the incident's own outbox event
    elapsed = 0.0
    # One run first, not counted (as the peer's warm-up run): statements compiled, the
    # definition parsed and cached, connections opened.
    for counted in [False] + [True] * RUNS:
        async with db.transaction() as session:
            workflow = await session.get(Workflow, workflow_id)
            assert workflow is not None
            definition = await service.definition_of(session=session, workflow_id=workflow_id,
                                                      version=1)
            run_id = await runs.create_run(session=session, workflow=workflow,
                                           definition=definition, incident_id=incident_id)
        started = time.perf_counter()
        await engine.drain()
        elapsed += time.perf_counter() - started if counted else 0.0
        async with db.session() as session:
            run = await session.get(Run, run_id)
            assert run is not None and run.status == "succeeded", run and run.status
    return STEPS * RUNS / elapsed


async def _throughput(db: Database, tools: Tools, workers: int, runs_count: int = 20) -> float:
    """Steps per second that `workers` engines (one process) sustain over many runs."""
    async with db.session() as session:
        workflow = await session.scalar(select(Workflow).where(Workflow.name == "Bench"))
        incident_id = await session.scalar(select(Run.incident_id))
    assert workflow is not None and incident_id is not None
    async with db.transaction() as session:
        definition = await service.definition_of(session=session, workflow_id=workflow.id,
                                                  version=1)
        for _ in range(runs_count):
            await runs.create_run(session=session, workflow=workflow, definition=definition,
                                  incident_id=incident_id)
    engines = [Engine(db=db, tools=tools, batch=4) for _ in range(workers)]
    started = time.perf_counter()
    await asyncio.gather(*(engine.drain() for engine in engines))
    elapsed = time.perf_counter() - started
    async with db.session() as session:
        unfinished = await session.scalar(select(func.count()).select_from(Run).where(
            Run.status != "succeeded"))
    assert unfinished == 0, unfinished
    return STEPS * runs_count / elapsed


async def _measure(url: str, home: Path, workers: int = 0) -> tuple[float, float, float]:
    settings = Settings.from_env({
        "FIRELINE_HOME": str(home), "FIRELINE_DATABASE_URL": url,
        "FIRELINE_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()})
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    keyring = load_keyring(settings)
    db = Database(settings.database_url)  # its defaults: on SQLite, synchronous=FULL
    try:
        if db.is_sqlite:
            async with db.session(read_only=True) as session:
                journal = await session.scalar(text("PRAGMA journal_mode"))
                synchronous = await session.scalar(text("PRAGMA synchronous"))
            print(f"sqlite: journal_mode={journal} synchronous="
                  f"{ {0: 'off', 1: 'normal', 2: 'full', 3: 'extra'}[synchronous] }")
        tools = Tools(settings=settings, keyring=keyring, vault=Vault(keyring))
        steps = await _engine_steps_per_second(db, tools)
        parallel = await _throughput(db, tools, workers) if workers else 0.0
        await create_commit_table(db)
        commits = await commits_per_second(db, 3.0)
    finally:
        await db.dispose()
    return steps, parallel, commits


async def _postgres(home: Path) -> tuple[float, float, float] | None:
    try:
        admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    name = f"fireline_bench_{secrets.token_hex(4)}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        return await _measure(POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}", home,
                              workers=WORKERS)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def one(configuration: str) -> float:
    """One configuration's figure (steps/s), for `bench_peers`: `sqlite` (one run at a
    time), `postgres` (likewise), `postgres-parallel` (WORKERS engines on 20 runs)."""
    with tempfile.TemporaryDirectory(prefix="fireline-bench-") as directory:
        home = Path(directory)
        if configuration == "sqlite":
            return (await _measure(f"sqlite:///{home / 'bench.db'}", home))[0]
        found = await _postgres(home)
        if found is None:
            raise SystemExit("PostgreSQL is not reachable")
        return found[1] if configuration == "postgres-parallel" else found[0]


async def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps({"steps_per_second": await one(sys.argv[2])}))
        return
    with tempfile.TemporaryDirectory(prefix="fireline-bench-") as directory:
        home = Path(directory)
        postgres = await _postgres(home)
        if postgres is not None:
            steps, parallel, commits = postgres
            report(f"engine_throughput_postgres_{WORKERS}_workers", parallel, commits, unit="/s")
            report("engine_step_postgres", steps, commits, unit="/s")
        steps, _, commits = await _measure(f"sqlite:///{home / 'bench.db'}", home)
        report("engine_step", steps, commits, unit="/s")


if __name__ == "__main__":
    asyncio.run(main())
