from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx
import pytest
import structlog.testing
from sqlalchemy import select, update

from fireline.connections import monitor as monitor_module
from fireline.connections.models import Connection, HealthCheck
from fireline.connections.monitor import Monitor
from fireline.core.audit import AuditEvent
from fireline.core.clock import utcnow
from fireline.core.db import Database
from fireline.integrations.base import ToolContext
from tests.conftest import Actor
from tests.connections.test_views import ES, es_body


async def _due_now(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(update(Connection).values(
            health_next_check_at=utcnow() - timedelta(seconds=1)))


async def test_periodic_pass_checks_due_connections_and_records_flips(
    client: httpx.AsyncClient, make_actor, db: Database, app
) -> None:
    admin: Actor = await make_actor("admin")
    ids = [(await client.post(ES, json=es_body(f"C{i}"), headers=admin.headers)).json()
           ["connection"]["id"] for i in range(3)]
    tools = app.state.tools
    async with db.transaction() as session:
        broken = await session.get(Connection, ids[0])
        assert broken is not None
        tools.seal_secrets(broken, {"api_key": "revoked-key-value"})
    await _due_now(db)
    monitor = Monitor(db=db, tools=tools, concurrency=2, batch_size=2, random=lambda: 0.5)
    assert await monitor.run_pass() == 3
    assert await monitor.run_pass() == 0  # nothing is due any more

    async with db.session() as session:
        rows = {c.id: c for c in await session.scalars(select(Connection))}
        assert rows[ids[0]].health_status == "Unhealthy"
        assert rows[ids[1]].health_status == "Healthy"
        # A healthy connection is due again after one interval (jitter 0 at random=0.5).
        next_due = rows[ids[1]].health_next_check_at - rows[ids[1]].health_checked_at
        assert next_due == tools.settings.health_check_interval == timedelta(minutes=5)
        triggers = [c.trigger for c in await session.scalars(
            select(HealthCheck).where(HealthCheck.connection_id == ids[0]))]
        assert sorted(triggers) == ["create", "periodic"]
        flip = await session.scalar(select(AuditEvent).where(
            AuditEvent.action == "connection.health_changed"))
        assert flip is not None and flip.target_id == ids[0]
        assert flip.details == {"from": "Healthy", "to": "Unhealthy", "trigger": "periodic"}
        assert "revoked-key-value" not in (flip.message or "")

    await _due_now(db)
    await monitor.run_pass()
    async with db.session() as session:
        failing = await session.get(Connection, ids[0])
        assert failing is not None and failing.health_failures == 2
        # Back-off: a connection failing twice waits twice the interval.
        gap = failing.health_next_check_at - failing.health_checked_at
        assert gap == tools.settings.health_check_interval * 2


async def test_a_pass_over_many_pages_checks_each_due_connection_exactly_once(
    client: httpx.AsyncClient, make_actor, db: Database, app
) -> None:
    admin: Actor = await make_actor("admin")
    ids = {(await client.post(ES, json=es_body(f"P{i}"), headers=admin.headers)).json()
           ["connection"]["id"] for i in range(7)}
    await _due_now(db)
    # More workers than a page holds, pages smaller than the pass: outcomes are written
    # while other checks are still running.
    monitor = Monitor(db=db, tools=app.state.tools, concurrency=3, batch_size=2)
    assert await monitor.run_pass() == 7
    assert await monitor.run_pass() == 0

    async with db.session() as session:
        periodic = list(await session.scalars(
            select(HealthCheck.connection_id).where(HealthCheck.trigger == "periodic")))
        assert sorted(periodic) == sorted(ids)
        statuses = set(await session.scalars(select(Connection.health_status)))
        assert statuses == {"Healthy"}
    # The pass that checked nothing closed the pooled client the pass before had used.
    assert app.state.tools.shared_clients == {}


async def test_a_failing_check_fails_the_pass_without_leaving_work_behind(
    client: httpx.AsyncClient, make_actor, db: Database, app, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin: Actor = await make_actor("admin")
    for i in range(4):
        await client.post(ES, json=es_body(f"F{i}"), headers=admin.headers)
    await _due_now(db)
    monitor = Monitor(db=db, tools=app.state.tools, concurrency=2, batch_size=2)

    async def broken(connection: Connection) -> object:
        raise RuntimeError("integration bug")

    monkeypatch.setattr(monitor, "_probe", broken)
    with pytest.raises(ExceptionGroup) as failure:
        await monitor.run_pass()
    assert failure.group_contains(RuntimeError, match="integration bug", depth=None)
    assert all(entry.users == 0 for entry in app.state.tools.shared_clients.values())
    monkeypatch.undo()
    assert await monitor.run_pass() == 4  # nothing was written: all still due


async def test_a_crashing_check_is_unhealthy_alone_and_says_where_to_look(
    client: httpx.AsyncClient, make_actor, db: Database, app, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin: Actor = await make_actor("admin")
    ids = [(await client.post(ES, json=es_body(f"K{i}"), headers=admin.headers)).json()
           ["connection"]["id"] for i in range(4)]
    original = monitor_module.registry.get("elasticsearch")
    assert original is not None

    async def verify(ctx: ToolContext) -> str:
        if ctx.connection_id == ids[1]:
            raise KeyError("a bug in one tool's check")
        return await original.verify(ctx)

    crashing = dataclasses.replace(original, verify=verify)
    monkeypatch.setattr(monitor_module.registry, "get",
                        lambda slug: crashing if slug == "elasticsearch" else None)
    await _due_now(db)
    with structlog.testing.capture_logs() as logs:
        assert await Monitor(db=db, tools=app.state.tools, concurrency=4).run_pass() == 4

    async with db.session() as session:
        rows = {c.id: c for c in await session.scalars(select(Connection))}
    assert [rows[i].health_status for i in ids] == ["Healthy", "Unhealthy", "Healthy", "Healthy"]
    message = rows[ids[1]].health_message or ""
    assert message.startswith("Verification failed unexpectedly (KeyError)")
    request_id = message.split("request id ")[1].split()[0]
    assert "a bug in one tool's check" not in message  # the class, never the text
    crashes = [log for log in logs if log["event"] == "verify_crashed"]
    assert [log["request_id"] for log in crashes] == [request_id]  # the traceback's line
    assert crashes[0]["exc_info"] is True
