"""The shared database layer (core/db.py): a connection goes back to the pool with no
transaction open, on both databases — rolled back by the pool only when one is still open."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from fireline.core import db as core_db
from fireline.core.db import Database, _in_transaction


async def test_a_connection_returned_in_a_transaction_is_rolled_back(db: Database) -> None:
    # A transaction SQLAlchemy does not know of (as one cut off mid-way could leave).
    statement = "BEGIN" if db.is_sqlite else "SELECT 1"  # asyncpg's adapter begins by itself

    def begin_unseen(sync_connection: Any) -> bool:
        driver = sync_connection.connection.dbapi_connection
        cursor = driver.cursor()
        cursor.execute(statement)
        cursor.close()
        return _in_transaction(driver)

    async with db.engine.connect() as connection:
        assert await connection.run_sync(begin_unseen)
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert not _in_transaction(raw.dbapi_connection)


async def test_a_committed_transaction_leaves_nothing_to_reset(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text("SELECT 1"))
    async with db.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert not _in_transaction(raw.dbapi_connection)


async def test_a_pooled_connection_killed_while_idle_is_replaced_not_used(
    db: Database, monkeypatch: pytest.MonkeyPatch,
) -> None:
    if db.is_sqlite:
        pytest.skip("a server connection: PostgreSQL")
    monkeypatch.setattr(core_db, "PING_AFTER_IDLE_SECONDS", 0.0)
    async with db.transaction() as session:
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
    # The server ends that session while it sits in the pool (a restart, an idle timeout).
    other = await asyncpg.connect(
        db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        assert await other.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await other.close()
    async with db.transaction() as session:
        assert await session.scalar(text("SELECT pg_backend_pid()")) != pid


async def test_sync_work_commits_on_return_and_rolls_back_on_raise(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE IF NOT EXISTS sync_work (n INTEGER)"))
        await session.execute(text("DELETE FROM sync_work"))

    def add(session: Session, n: int) -> str:
        session.execute(text("INSERT INTO sync_work VALUES (:n)"), {"n": n})
        return threading.current_thread().name

    where = await db.run_sync_transaction(lambda session: add(session, 1))
    # SQLite: one hop to its writer thread for the whole transaction; PostgreSQL: the loop's.
    assert where.startswith("fireline-sqlite") == db.is_sqlite

    def add_then_fail(session: Session) -> None:
        add(session, 2)
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        await db.run_sync_transaction(add_then_fail)
    async with db.session(read_only=True) as session:
        assert list(await session.scalars(text("SELECT n FROM sync_work"))) == [1]
    async with db.transaction() as session:
        await session.execute(text("DROP TABLE sync_work"))


async def test_sync_work_and_async_transactions_take_turns(db: Database) -> None:
    """On SQLite both kinds of write queue for the one write lock (BEGIN IMMEDIATE, the busy
    timeout), each on its own connection: none waits for another forever, none is lost."""
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE IF NOT EXISTS turns (n INTEGER)"))
        await session.execute(text("DELETE FROM turns"))

    async def via_session(n: int) -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO turns VALUES (:n)"), {"n": n})

    async def via_sync_work(n: int) -> None:
        await db.run_sync_transaction(
            lambda session: session.execute(text("INSERT INTO turns VALUES (:n)"), {"n": n}))

    await asyncio.gather(*(via_session(n) if n % 2 else via_sync_work(n) for n in range(40)))
    async with db.session(read_only=True) as session:
        assert sorted(await session.scalars(text("SELECT n FROM turns"))) == list(range(40))
    async with db.transaction() as session:
        await session.execute(text("DROP TABLE turns"))
