"""The SQLite driver (core/sqlite_driver.py): one trip to SQLite's thread per statement, and
the DB-API answers SQLAlchemy relies on (rows, row counts, last row ids, errors) unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from fireline.core.db import Database


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with database.transaction() as session:
        await session.execute(text(
            "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "name TEXT UNIQUE NOT NULL)"))
    yield database
    await database.dispose()


async def test_each_statement_is_one_trip_to_sqlite(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[object] = []
    real = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object) -> object:
        trips.append(fn)
        return await real(self, fn, *args)  # type: ignore[no-untyped-call]

    async with database.transaction() as session:
        await session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE and a first statement
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        rows = (await session.execute(text("SELECT name FROM items"))).all()
        await session.execute(text("INSERT INTO items (name) VALUES ('a')"))
    assert rows == []
    # The select and the insert, one trip each; then the commit. No reset follows: the
    # transaction was ended (`db._reset`).
    assert [getattr(fn, "__name__", "") for fn in trips] == ["_run", "_run", "commit"]


async def test_rows_counts_and_row_ids_are_the_driver_s(database: Database) -> None:
    async with database.transaction() as session:
        connection = await session.connection()
        first = await connection.execute(text("INSERT INTO items (name) VALUES ('a')"))
        second = await connection.execute(text("INSERT INTO items (name) VALUES ('b')"))
        many = await connection.execute(text("INSERT INTO items (name) VALUES (:name)"),
                                        [{"name": "c"}, {"name": "d"}])
        renamed = await connection.execute(text(
            "UPDATE items SET name = name || '!' WHERE name IN ('a', 'b')"))
        returned = await connection.execute(text(
            "UPDATE items SET name = 'e' WHERE name = 'c' RETURNING id, name"))
    assert (first.lastrowid, second.lastrowid) == (1, 2)
    assert many.rowcount == 2
    assert renamed.rowcount == 2
    assert returned.all() == [(3, "e")]
    async with database.session(read_only=True) as session:
        result = await session.execute(text("SELECT id, name FROM items ORDER BY id"))
        assert list(result.keys()) == ["id", "name"]
        assert result.all() == [(1, "a!"), (2, "b!"), (3, "e"), (4, "d")]


async def test_errors_are_sqlalchemy_s_and_leave_nothing_behind(database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            await session.execute(text("INSERT INTO items (name) VALUES ('x')"))
            await session.execute(text("INSERT INTO items (name) VALUES ('x')"))
    with pytest.raises(OperationalError, match="no such table"):
        async with database.session(read_only=True) as session:
            await session.execute(text("SELECT * FROM missing"))
    async with database.session(read_only=True) as session:
        assert (await session.execute(text("SELECT count(*) FROM items"))).scalar() == 0


def test_the_adapter_classes_it_subclasses_are_as_tested() -> None:
    """The driver leans on what neither SQLAlchemy nor aiosqlite documents: SQLAlchemy's
    aiosqlite adapter classes (a cursor's slots, the connection's cursor class and error
    handler) and aiosqlite's `_execute` and `_conn`. pyproject pins the releases it was tested
    with; this fails loudly, naming the part, when one of them is not what it was."""
    import inspect

    import sqlalchemy
    from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_cursor
    from sqlalchemy.dialects.sqlite import aiosqlite as dialect

    major, minor, *_ = (int(part) for part in sqlalchemy.__version__.split(".")[:3])
    assert (major, minor) == (2, 1), f"SQLAlchemy {sqlalchemy.__version__}: tested on 2.1"
    assert set(AsyncAdapt_dbapi_cursor.__slots__) == {
        "_adapt_connection", "_connection", "_cursor", "_rows", "_soft_closed_memoized"}
    assert issubclass(dialect.AsyncAdapt_aiosqlite_cursor, AsyncAdapt_dbapi_cursor)
    assert dialect.AsyncAdapt_aiosqlite_connection._cursor_cls is (
        dialect.AsyncAdapt_aiosqlite_cursor)
    assert callable(dialect.AsyncAdapt_aiosqlite_connection._handle_exception)
    assert list(inspect.signature(dialect.AsyncAdapt_aiosqlite_dbapi.connect).parameters) == [
        "self", "arg", "kw"]
    assert inspect.iscoroutinefunction(aiosqlite.Connection._execute)
    assert list(inspect.signature(aiosqlite.Connection._execute).parameters)[:2] == [
        "self", "fn"]
    assert "_conn" in inspect.getsource(aiosqlite.Connection.__init__)
