"""Database access: one async engine, one schema, SQLite (embedded) or PostgreSQL.

SQLite runs in WAL mode with foreign keys on, and every transaction that may write starts
with `BEGIN IMMEDIATE`: concurrent writers then queue on the busy timeout instead of failing
when a read lock cannot be upgraded (SQLite's deadlock rule for deferred transactions).
Read-only sessions (`session(read_only=True)`, used for GET requests) begin deferred: in WAL
mode readers never wait for the writer, so reads no longer queue behind writes and each other.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import DateTime, Engine, MetaData, Select, create_engine, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import PoolResetState
from sqlalchemy.types import TypeDecorator

from fireline.core import sqlite_driver

_T = TypeVar("_T")
_READ_ONLY = "fireline_read_only"
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value if value.tzinfo is UTC else value.astimezone(UTC)


class Database:
    """The engine and session factory shared by the HTTP app, workers and the CLI."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10,
                 sqlite_synchronous: str = "full") -> None:
        self.url = url
        # The pool's own reset rolls back every connection it gets back, even one whose
        # transaction was just committed: a trip to the database per transaction. `_reset`
        # rolls back only what is still open (SQLAlchemy's documented custom reset).
        kwargs: dict[str, Any] = {"echo": echo, "pool_reset_on_return": None}
        if url.startswith("sqlite"):
            kwargs.update(connect_args={"timeout": 30}, module=sqlite_driver.dbapi())
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size * 2)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        event.listen(self.engine.sync_engine, "reset", _reset)
        # Best-effort writes under way, by what they write (the loop keeps only a weak
        # reference to a task).
        self._background: dict[str, asyncio.Task[None]] = {}
        # `run_sync_transaction` on SQLite: the same file through the sync driver, used by
        # one thread only.
        self._writer: ThreadPoolExecutor | None = None
        self._sync_engine: Engine | None = None
        if not self.is_sqlite:
            _ping_after_idle(self.engine.sync_engine)
        if self.is_sqlite:
            _configure_sqlite(self.engine.sync_engine, sqlite_synchronous)
            if self.engine.url.database not in (None, "", ":memory:"):
                self._sync_engine = create_engine(
                    self.engine.url.set(drivername="sqlite"), connect_args={"timeout": 30},
                    pool_size=1, max_overflow=0, pool_reset_on_return=None)
                event.listen(self._sync_engine, "reset", _reset)
                _configure_sqlite(self._sync_engine, sqlite_synchronous)
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="fireline-sqlite")
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = async_sessionmaker(
            self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def session(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """A session; `read_only=True` promises no writes (SQLite then begins deferred)."""
        maker = self.read_sessionmaker if read_only else self.sessionmaker
        async with maker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits on success and rolls back on any error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def run_sync_transaction(self, work: Callable[[Session], _T]) -> _T:
        """Runs `work` (synchronous code over an ORM `Session`) in one transaction that
        commits when it returns and rolls back when it raises.

        For work whose every statement is known at the start (the engine's step
        completion): on SQLite the whole transaction is one hop to a thread of its own,
        through the sync driver, instead of one per statement (each a wake-up of the event
        loop and a handover of the GIL); on PostgreSQL it runs in the session's greenlet
        (`AsyncSession.run_sync`), one statement per round trip as any other. A caller
        cancelled meanwhile does not stop it: what it commits is committed."""
        if self._writer is not None:
            return await asyncio.get_running_loop().run_in_executor(
                self._writer, self._in_writer, work)
        async with self.transaction() as session:
            return await session.run_sync(work)

    def _in_writer(self, work: Callable[[Session], _T]) -> _T:
        with Session(self._sync_engine, expire_on_commit=False) as session, session.begin():
            return work(session)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    def in_background(self, key: str, write: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Runs a best-effort write after the request that asked for it (a "last used" time),
        unless one for the same `key` is under way. The task is kept until it ends, so
        `dispose` can wait for it: one cut off mid-query would leave its connection to be
        found unclosed."""
        if key in self._background:
            return
        task = asyncio.create_task(write())
        self._background[key] = task
        task.add_done_callback(lambda _: self._background.pop(key, None))

    async def dispose(self) -> None:
        if self._background:
            await asyncio.gather(*self._background.values(), return_exceptions=True)
        if self._writer is not None and self._sync_engine is not None:
            writer, sync_engine = self._writer, self._sync_engine
            await asyncio.to_thread(writer.shutdown)
            await asyncio.to_thread(sync_engine.dispose)
        await self.engine.dispose()


def _in_transaction(dbapi_connection: Any) -> bool:
    """Whether the driver's connection has a transaction open (unknown drivers: yes)."""
    driver = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    if isinstance(driver, aiosqlite.Connection | sqlite3.Connection):
        return bool(driver.in_transaction)
    if isinstance(driver, asyncpg.Connection):
        return bool(driver.is_in_transaction())
    return True


def _reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """A connection back in the pool: rolled back if a transaction is still open on it (a
    closed session's connection has none; a cancelled or failed one may)."""
    if not state.terminate_only and _in_transaction(dbapi_connection):
        dbapi_connection.rollback()


# A pooled connection idle this long is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 10.0


def _ping_after_idle(sync_engine: Engine) -> None:
    """Pessimistic disconnect handling, for connections that may have gone stale only: a
    server restart or an idle timeout finds a connection that sat in the pool, not one
    handed back a moment ago. SQLAlchemy's `pool_pre_ping` pings at every checkout — on
    asyncpg three round trips (BEGIN, a no-op, ROLLBACK), a fifth of a workflow step's time
    (bench_engine); this pings after `PING_AFTER_IDLE_SECONDS` only. A failed ping raises
    DisconnectionError, on which the pool discards the connection and opens another
    (SQLAlchemy's documented checkout contract); a disconnect met later still invalidates
    the pool as usual."""

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: not a connection to hand out
            raise DisconnectionError("stale pooled connection") from exc
        if not alive:
            raise DisconnectionError("stale pooled connection")


# What survives what (README "Durability"): in WAL mode, NORMAL fsyncs only at checkpoints —
# a process crash loses nothing, a power loss or kernel panic can lose the last commits it
# acknowledged; FULL fsyncs the WAL at every commit, so an acknowledged commit survives both.
SQLITE_SYNCHRONOUS = ("full", "normal")


def _configure_sqlite(sync_engine: Engine, synchronous: str) -> None:
    if synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"sqlite synchronous must be one of {SQLITE_SYNCHRONOUS}")

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_for_dialect(dialect: str) -> Any:
    """The dialect's `insert` (it has `on_conflict_do_nothing`, which core `insert` lacks)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def insert_for(session: AsyncSession) -> Any:
    return insert_for_dialect(dialect_name(session))


async def first_unique(session: AsyncSession, statement: Select[_T]) -> _T | None:
    """`session.scalar` for models that eagerly join collections (which need `unique()`)."""
    return (await session.scalars(statement)).unique().first()
