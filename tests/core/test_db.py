"""The shared database layer (core/db.py): a connection goes back to the pool with no
transaction open, on both databases — rolled back by the pool only when one is still open."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

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
