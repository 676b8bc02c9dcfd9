"""Background work beside (or instead of) the HTTP server: workers and the scheduler.

A `Runtime` runs a set of periodic jobs, each in its own task, until stopped. Each later
capability registers its job here (the health monitor, the workflow engine, the outbox
relay); one failing iteration is logged and retried on the next tick, never fatal.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI

from fireline.connections.monitor import Monitor
from fireline.connections.tools import Tools
from fireline.core.db import Database
from fireline.core.logging import get_logger
from fireline.settings import Settings
from fireline.vault.keyring import Keyring
from fireline.vault.sealing import Vault
from fireline.workflows.engine import Engine

log = get_logger("fireline.runtime")


@dataclass(frozen=True)
class Job:
    name: str
    interval: float
    run: Callable[[], Awaitable[object]]


def default_jobs(database: Database, tools: Tools) -> list[Job]:
    monitor = Monitor(db=database, tools=tools)
    engine = Engine(db=database, tools=tools,
                    lease_seconds=float(tools.settings.workflow_lease_seconds),
                    connection_concurrency=tools.settings.workflow_connection_concurrency)
    return [
        Job("health_monitor", 30.0, monitor.run_pass),
        # Polls every half second; a busy engine drains its backlog within one tick.
        Job("workflow_engine", 0.5, engine.drain),
        Job("workflow_sweeper", 30.0, engine.sweep_once),
    ]


@dataclass
class Runtime:
    settings: Settings
    keyring: Keyring
    jobs: list[Job] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def attach(self, app: FastAPI) -> None:
        app.state.runtime = self

    async def start(self, database: Database, tools: Tools | None = None) -> None:
        tools = tools or Tools(settings=self.settings, keyring=self.keyring,
                               vault=Vault(self.keyring))
        self.jobs = self.jobs or default_jobs(database, tools)
        self._tasks = [asyncio.create_task(self._loop(job), name=job.name) for job in self.jobs]
        log.info("runtime_started", jobs=[job.name for job in self.jobs])

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _loop(self, job: Job) -> None:
        while True:
            try:
                await job.run()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad iteration must not stop the job
                log.exception("job_failed", job=job.name)
            await asyncio.sleep(job.interval)

    async def run_forever(self) -> None:
        database = Database(self.settings.database_url)
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
