"""Waking workflow engines when there is new work, instead of at their next poll.

- This process: a transaction whose flush inserts outbox events or run steps (an incident
  changed, a run started), or that inserted outbox events itself (`outbox.insert`), is
  marked, and once it has committed it wakes this process's engines directly (`Waiter`s).
  `install` (idempotent) hooks this into every SQLAlchemy session; the app and the runtime
  call it.
- Other nodes (PostgreSQL): a statement-level trigger on those two tables (migration 0005)
  NOTIFYs `CHANNEL`, which PostgreSQL delivers only if the transaction commits, at no extra
  round trip for the writer; each runtime LISTENs on one connection of its own (`listen`)
  and wakes its engines.
- Polling stays the fallback: a waiter also wakes when its interval passes, so a lost
  notification, a dropped listening connection or a retry coming due only waits for the
  next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; used for LISTEN only
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from fireline.core.logging import get_logger
from fireline.incidents import outbox
from fireline.incidents.models import OutboxEvent
from fireline.workflows.models import RunStep

log = get_logger("fireline.workflows.wakeup")

CHANNEL = "fireline_workflows"  # the trigger of migration 0005 names it too
_MARK = "fireline_workflows_wake"
_waiters: weakref.WeakSet[Waiter] = weakref.WeakSet()
_installed = False


class Waiter:
    """One engine loop's alarm: `wait` returns when work was announced or after `timeout`.
    Made inside the loop that waits on it; `wake` may be called from any thread."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        _waiters.add(self)

    def wake(self) -> None:
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is self._loop:
            self._event.set()
            return
        with contextlib.suppress(RuntimeError):  # its loop has closed: nobody waits
            self._loop.call_soon_threadsafe(self._event.set)

    @property
    def woken(self) -> bool:
        return self._event.is_set()

    async def wait(self, timeout: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
        # arrives as the event is set, and the engine's loop then waits another interval
        # while its runtime waits for it to stop (a hang seen in CI).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()
        # Cleared after waking, before the engine looks for work: an announcement made
        # from here on wakes the next wait at once.
        self._event.clear()


def wake_all() -> None:
    for waiter in list(_waiters):
        waiter.wake()


def install() -> None:
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _mark_new_work)
    event.listen(Session, "after_commit", _wake_this_process)
    event.listen(Session, "after_rollback", _forget)
    _installed = True


def _mark_new_work(session: Session, _context: Any) -> None:
    # After a flush `session.new` still lists what it inserted.
    if any(isinstance(item, OutboxEvent | RunStep) for item in session.new):
        session.info[_MARK] = True


def _wake_this_process(session: Session) -> None:
    # Commit hooks fire for savepoints too: only the outermost commit makes work visible.
    if not session.in_nested_transaction() and _take_marks(session):
        wake_all()


def _forget(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint's rollback may leave work behind
        _take_marks(session)


def _take_marks(session: Session) -> bool:
    """Whether this transaction wrote new work: flushed (marked here) or inserted by a Core
    statement (marked by `outbox.insert`). Clears both marks."""
    flushed = session.info.pop(_MARK, False)
    return bool(session.info.pop(outbox.INSERTED, False) or flushed)


def _asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


async def listen(database_url: str, on_notify: Callable[[], None] = wake_all, *,
                 ready: Callable[[], None] | None = None,
                 keepalive_seconds: float = 30.0) -> None:
    """LISTENs on `CHANNEL` (PostgreSQL) and calls `on_notify()` for every notification
    (`ready()` once listening); returns when the connection is lost (the caller starts it
    again; meanwhile engines poll)."""
    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    lost = asyncio.Event()
    connection.add_termination_listener(lambda _connection: lost.set())
    try:
        await connection.add_listener(CHANNEL, lambda *_args: on_notify())
        log.info("workflow_listener_started")
        if ready is not None:
            ready()
        # A connection that vanished without a goodbye (a network cut) is noticed by the
        # keep-alive query failing.
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(keepalive_seconds):  # see Waiter.wait
                    await lost.wait()
            if not lost.is_set():
                await connection.execute("SELECT 1")
    finally:
        if not connection.is_closed():
            await connection.close()
        log.info("workflow_listener_stopped")
