"""The health monitor: re-checks every connection periodically (DESIGN "Health").

Each pass takes the connections that are due in batches, probes a batch concurrently (bounded
by `concurrency`, sharing pooled clients per destination), and writes the batch's outcomes in
one transaction. The next check is scheduled with jitter (so checks spread out instead of
marching in step) and backs off for failing connections (`health.apply`). OAuth connections
still waiting for their callback are skipped.

On PostgreSQL only one node runs a pass at a time (an advisory lock); SQLite is single-node.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import insert, or_, select, text, update

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
            return await self._run_batches()
        async with self.db.engine.connect() as conn:
            got = await conn.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": _ADVISORY_LOCK}
            )
            if not got:
                return 0
            try:
                return await self._run_batches()
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK})
                await conn.commit()

    async def _run_batches(self) -> int:
        total = 0
        started = utcnow()
        while True:
            # Only what was due when the pass began: a check rescheduled into the past by a
            # clock change cannot make a pass run forever.
            checked = await self._run_batch(started)
            total += checked
            if checked < self.batch_size:
                return total

    async def _run_batch(self, due_before: object) -> int:
        async with self.db.session() as session:
            due = list(
                await session.scalars(
                    select(Connection)
                    .where(
                        or_(
                            Connection.health_next_check_at.is_(None),
                            Connection.health_next_check_at <= due_before,
                        ),
                        or_(Connection.oauth_state.is_(None), Connection.oauth_state != "pending"),
                    )
                    .order_by(Connection.health_next_check_at, Connection.id)
                    .limit(self.batch_size)
                )
            )
        if not due:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def check(connection: Connection) -> health.Outcome:
            async with gate:
                return await self._probe(connection)

        try:
            outcomes = await asyncio.gather(*(check(c) for c in due))
        finally:
            await self.tools.aclose()
        updates, history = [], []
        async with self.db.transaction() as session:
            present = set(
                await session.scalars(
                    select(Connection.id).where(Connection.id.in_([c.id for c in due]))
                )
            )
            for connection, outcome in zip(due, outcomes, strict=True):
                if connection.id not in present:  # deleted while being checked
                    continue
                values = health.transition(connection, outcome)
                health.record_flip(
                    session,
                    connection,
                    values["health_status"],
                    trigger="periodic",
                    message=outcome.message,
                )
                interval = values["health_next_check_at"] - outcome.checked_at
                values["health_next_check_at"] += interval * (self.jitter * (2 * self.random() - 1))
                updates.append({"id": connection.id, **values})
                history.append(health.history_row(connection.id, outcome, "periodic"))
            # Bulk statements: one round trip each instead of one per connection.
            if updates:
                await session.execute(update(Connection), updates)
                await session.execute(insert(HealthCheck), history)
        return len(due)

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
            shared=True,
        )
