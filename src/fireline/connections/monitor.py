"""The health monitor: re-checks every connection periodically (DESIGN "Health").

A pass checks the connections that were due when it began. `concurrency` workers take them
one at a time from a queue that a loader keeps filled, a page of `batch_size` rows at a time;
outcomes are written `batch_size` at a time, each page in one transaction (bulk statements),
while the workers carry on. A slow host therefore holds up one worker, never a whole batch,
and the database round trips overlap the checks instead of pausing them. Checks of one
destination share one pooled client (`Tools`), so kept-alive TLS connections are reused.

The next check is scheduled with jitter (so checks spread out instead of marching in step)
and backs off for failing connections (`health.transition`). OAuth connections still waiting
for their callback are skipped.

On PostgreSQL only one node runs a pass at a time (an advisory lock); SQLite is single-node.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, insert, or_, select, text, update

from fireline.connections import health, service
from fireline.connections.models import Connection, HealthCheck
from fireline.connections.tools import Tools
from fireline.core.clock import utcnow
from fireline.core.db import Database
from fireline.core.logging import get_logger
from fireline.integrations import registry

log = get_logger("fireline.connections.monitor")

# Arbitrary but fixed: identifies the monitor's advisory lock across nodes.
_ADVISORY_LOCK = 0x46495245  # "FIRE"

Checked = tuple[Connection, health.Outcome]

_CONNECTIONS = Connection.metadata.tables[Connection.__tablename__]
_HEALTH_CHECKS = HealthCheck.metadata.tables[HealthCheck.__tablename__]
_HEALTH_FIELDS = (
    "health_status",
    "health_message",
    "health_checked_at",
    "health_failures",
    "health_next_check_at",
)
# Parameters are named after the fields (`health.transition`'s keys) plus the row's id.
_UPDATE_HEALTH = (
    update(_CONNECTIONS)
    .where(_CONNECTIONS.c.id == bindparam("connection_id"))
    .values({name: bindparam(name) for name in _HEALTH_FIELDS})
)


@dataclass
class Monitor:
    db: Database
    tools: Tools
    concurrency: int = 50
    batch_size: int = 500
    jitter: float = 0.1
    random: Callable[[], float] = field(default=random.random)

    async def run_pass(self) -> int:
        """Checks every connection that is due; returns how many were checked."""
        if self.db.is_sqlite:
            return await self._run_pass()
        async with self.db.engine.connect() as conn:
            got = await conn.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": _ADVISORY_LOCK}
            )
            if not got:
                return 0
            try:
                return await self._run_pass()
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK})
                await conn.commit()

    async def _run_pass(self) -> int:
        # Bounded, so that memory holds a few pages whatever the number of connections.
        work: asyncio.Queue[Connection | None] = asyncio.Queue(maxsize=self.batch_size)
        writes: asyncio.Queue[list[Checked] | None] = asyncio.Queue(maxsize=1)
        checked: list[Checked] = []
        total = 0

        async def load() -> None:
            # Only what was due when the pass began: a check rescheduled into the past by a
            # clock change cannot make a pass run forever.
            due_before, after = utcnow(), ""
            while page := await self._load_page(due_before, after):
                for connection in page:
                    await work.put(connection)
                after = page[-1].id
            for _ in range(self.concurrency):
                await work.put(None)

        async def check() -> None:
            nonlocal checked, total
            while (connection := await work.get()) is not None:
                outcome = await self._probe(connection)
                checked.append((connection, outcome))  # after the await: `checked` may be new
                total += 1
                if len(checked) >= self.batch_size:
                    page, checked = checked, []
                    await writes.put(page)

        async def write() -> None:
            while (page := await writes.get()) is not None:
                await self._write(page)
                # Safe with checks in flight: a client in use is never closed.
                await self.tools.close_unused_clients()

        try:
            # Task groups: if any part fails, the others are cancelled and the pass fails.
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(load())
                tasks.create_task(write())
                async with asyncio.TaskGroup() as workers:
                    for _ in range(self.concurrency):
                        workers.create_task(check())
                if checked:
                    await writes.put(checked)
                await writes.put(None)
        finally:
            await self.tools.close_unused_clients()
        return total

    async def _load_page(self, due_before: datetime, after: str) -> list[Connection]:
        # Keyset pagination by id: rows already taken this pass are never taken again, even
        # before their new schedule is written. Read-only: on SQLite it then does not queue
        # for the write lock behind the page being written meanwhile.
        async with self.db.session(read_only=True) as session:
            return list(
                await session.scalars(
                    select(Connection)
                    .where(
                        Connection.id > after,
                        or_(
                            Connection.health_next_check_at.is_(None),
                            Connection.health_next_check_at <= due_before,
                        ),
                        or_(Connection.oauth_state.is_(None), Connection.oauth_state != "pending"),
                    )
                    .order_by(Connection.id)
                    .limit(self.batch_size)
                )
            )

    async def _write(self, page: list[Checked]) -> None:
        updates, history = [], []
        async with self.db.transaction() as session:
            present = set(
                await session.scalars(
                    select(Connection.id).where(Connection.id.in_([c.id for c, _ in page]))
                )
            )
            for connection, outcome in page:
                if connection.id not in present:  # deleted while being checked
                    continue
                values = health.transition(
                    connection, outcome, interval=self.tools.settings.health_check_interval
                )
                health.record_flip(
                    session,
                    connection,
                    values["health_status"],
                    trigger="periodic",
                    message=outcome.message,
                )
                interval = values["health_next_check_at"] - outcome.checked_at
                values["health_next_check_at"] += interval * (self.jitter * (2 * self.random() - 1))
                updates.append({"connection_id": connection.id, **values})
                history.append(health.history_row(connection.id, outcome, "periodic"))
            # Core executemany statements: one round trip each instead of one per connection,
            # without the ORM's per-row bookkeeping.
            if updates:
                await session.execute(_UPDATE_HEALTH, updates)
                await session.execute(insert(_HEALTH_CHECKS), history)

    async def _probe(self, connection: Connection) -> health.Outcome:
        integration = registry.get(connection.integration)
        if integration is None:
            return health.Outcome(
                False, f"Unknown integration {connection.integration!r}", 0, utcnow()
            )
        try:
            config = integration.config.model_validate(connection.configuration)
        except ValueError:
            return health.Outcome(False, "Stored configuration is no longer valid", 0, utcnow())
        return await service.probe_stored(
            db=self.db,
            tools=self.tools,
            integration=integration,
            connection=connection,
            config=config,
        )
