"""Background work beside (or instead of) the HTTP server: workers and the scheduler.

A `Runtime` runs a set of periodic jobs, each in its own task, until stopped. Each later
capability registers its job here (the health monitor, the workflow engine, the outbox
relay); one failing iteration is logged and retried on the next tick, never fatal. A job
may pause between runs with its own waiter instead of a plain sleep (the engine wakes
early when work is announced, `workflows.wakeup`).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from fastapi import FastAPI

from fireline.connections.monitor import Monitor
from fireline.connections.tools import Tools
from fireline.core.db import Database
from fireline.core.logging import get_logger
from fireline.settings import Settings
from fireline.vault.keyring import Keyring
from fireline.vault.sealing import Vault
from fireline.workflows import instance, wakeup
from fireline.workflows.engine import Engine

log = get_logger("fireline.runtime")


@dataclass(frozen=True)
class Job:
    name: str
    interval: float
    run: Callable[[], Awaitable[object]]
    # Between runs: waits at most `interval` (default: exactly that long).
    pause: Callable[[float], Awaitable[object]] = asyncio.sleep


def default_jobs(database: Database, tools: Tools, engine: Engine | None = None) -> list[Job]:
    monitor = Monitor(db=database, tools=tools)
    engine = engine or make_engine(database, tools)
    waiter = wakeup.Waiter()
    jobs = [
        # A pass checks what is due: passes at least as often as connections fall due.
        Job("health_monitor",
            min(30.0, tools.settings.health_check_interval.total_seconds()), monitor.run_pass),
        # Woken by new work (this process's commits, or PostgreSQL NOTIFY from any node);
        # polls every half second besides. A busy engine drains its backlog in one go.
        Job("workflow_engine", 0.5, engine.drain, pause=waiter.wait),
        Job("workflow_sweeper", 30.0, engine.sweep_once),
    ]
    if not database.is_sqlite:
        # Returns when its connection is lost; started again after the interval.
        jobs.append(Job("workflow_listener", 5.0, partial(wakeup.listen, database.url)))
    return jobs


def make_engine(database: Database, tools: Tools, worker_id: str | None = None) -> Engine:
    settings = tools.settings
    engine = Engine(db=database, tools=tools, lease_seconds=float(settings.workflow_lease_seconds),
                    connection_concurrency=settings.workflow_connection_concurrency)
    if worker_id is not None:
        engine.worker_id = worker_id
    return engine


@dataclass
class Runtime:
    settings: Settings
    keyring: Keyring
    jobs: list[Job] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _own_tools: Tools | None = None  # made here (a worker node), so closed here
    _instance: instance.Instance | None = None

    def attach(self, app: FastAPI) -> None:
        app.state.runtime = self

    async def start(self, database: Database, tools: Tools | None = None) -> None:
        wakeup.install()
        if tools is None:
            tools = self._own_tools = Tools(settings=self.settings, keyring=self.keyring,
                                            vault=Vault(self.keyring))
        if not self.jobs:
            # The slot this process takes over in FIRELINE_HOME: the steps its dead
            # predecessor still holds are released now, not when their leases run out.
            self._instance = instance.claim(self.settings.home)
            engine = make_engine(database, tools,
                                 self._instance.worker_id() if self._instance else None)
            if self._instance is not None:
                await engine.release_predecessor(self._instance.id)
            self.jobs = default_jobs(database, tools, engine)
        self._tasks = [asyncio.create_task(self._loop(job), name=job.name) for job in self.jobs]
        log.info("runtime_started", jobs=[job.name for job in self.jobs])

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._own_tools is not None:
            await self._own_tools.aclose()
            self._own_tools = None
        if self._instance is not None:
            self._instance.release()
            self._instance = None

    async def _loop(self, job: Job) -> None:
        while True:
            try:
                await job.run()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad iteration must not stop the job
                log.exception("job_failed", job=job.name)
            await job.pause(job.interval)

    async def run_forever(self) -> None:
        database = Database(self.settings.database_url,
                            sqlite_synchronous=self.settings.sqlite_synchronous)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        await self.start(database)
        try:
            await stopping.wait()
        finally:
            await self.stop()
            await database.dispose()
            log.info("runtime_stopped")
