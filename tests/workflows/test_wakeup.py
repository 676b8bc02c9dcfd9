"""Engines wake on new work: commits that add outbox events or run steps wake this
process's waiters (and, on PostgreSQL, every node through NOTIFY); polling stays the
fallback."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from fireline.accounts import service as accounts
from fireline.core.db import Database
from fireline.incidents import catalog, lifecycle
from fireline.incidents.lifecycle import NewIncident
from fireline.incidents.schemas import ServiceFields
from fireline.incidents.timeline import Agent
from fireline.runtime import Job, Runtime
from fireline.workflows import wakeup
from fireline.workflows.engine import Engine
from fireline.workflows.models import Run
from tests.conftest import Actor
from tests.workflows.conftest import incident, save_workflow, start
from tests.workflows.test_engine import until


async def _open_incident(db: Database, key: str, *, commit: bool = True) -> None:
    with contextlib.suppress(_Undo):
        async with db.transaction() as session:
            owner = await accounts.create_user(session=session, email=f"{key}@example.com",
                                               name="O", role="owner")
            service = await catalog.create_service(session=session,
                                                   data=ServiceFields(name=f"S {key}"))
            await lifecycle.open_incident(session=session, agent=Agent.user(owner), data=(
                NewIncident(service=service, title="t", urgency="high", incident_key=key)))
            if not commit:
                raise _Undo


class _Undo(Exception):
    pass


async def test_only_committed_work_wakes_this_process(db: Database) -> None:
    wakeup.install()
    waiter = wakeup.Waiter()
    async with db.transaction() as session:  # no new work in it
        await catalog.create_service(session=session, data=ServiceFields(name="Quiet"))
    assert not waiter.woken
    await _open_incident(db, "undone", commit=False)
    assert not waiter.woken
    await _open_incident(db, "done")  # an outbox event
    assert waiter.woken
    await waiter.wait(1)
    assert not waiter.woken  # cleared for the next round


async def test_wf1_postgres_notify_reaches_listeners_on_other_nodes(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    wakeup.install()
    listening, notified = asyncio.Event(), asyncio.Event()
    listener = asyncio.create_task(wakeup.listen(db.url, notified.set, ready=listening.set))
    try:
        await asyncio.wait_for(listening.wait(), 30)
        await _open_incident(db, "undone", commit=False)
        await _open_incident(db, "done")
        await asyncio.wait_for(notified.wait(), 30)  # bounds a hang; not a timing check
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def test_a_woken_engine_runs_a_started_workflow_without_waiting_for_its_poll(
    client: httpx.AsyncClient, app: Any, db: Database, make_actor,
) -> None:
    admin: Actor = await make_actor("admin")
    engine = Engine(db=db, tools=app.state.tools)
    waiter = wakeup.Waiter()
    # Polls once an hour: only a wake-up can run the workflow within the test.
    runtime = Runtime(settings=app.state.tools.settings, keyring=app.state.tools.keyring,
                      jobs=[Job("workflow_engine", 3600, engine.drain, pause=waiter.wait)])
    await runtime.start(db, app.state.tools)
    try:
        saved = await save_workflow(client, admin, {
            "name": "Now", "steps": [{"id": "n", "action": "fireline.noop"}]})
        found = await incident(client, admin)
        started = await start(client, admin, saved.json()["incident_workflow"]["id"],
                              found["id"])
        run_id = started.json()["incident_workflow_instance"]["id"]

        async def finished() -> bool:
            async with db.session() as session:
                return await session.scalar(select(Run.status).where(Run.id == run_id)) == (
                    "succeeded")

        await until(finished)
    finally:
        await runtime.stop()


async def test_a_waiter_is_woken_from_another_thread() -> None:
    waiter = wakeup.Waiter()
    await asyncio.to_thread(wakeup.wake_all)  # e.g. a commit made in a worker thread
    await until(lambda: waiter.woken)


@pytest.mark.parametrize("turns", range(5))
async def test_a_wait_cancelled_as_it_is_woken_ends_cancelled(turns: int) -> None:
    # A runtime stopping cancels its engine's wait, which may be woken at that moment: the
    # cancel must win, or the engine waits another interval and the stop hangs.
    waiter = wakeup.Waiter()
    waiting = asyncio.create_task(waiter.wait(3600))
    await asyncio.sleep(0)
    waiter.wake()
    for _ in range(turns):
        await asyncio.sleep(0)
    if waiting.cancel():
        with pytest.raises(asyncio.CancelledError):
            await waiting
    else:
        await waiting  # it had returned already
