from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from fireline.core import migrate
from fireline.core.db import Base, Database
from tests.conftest import EmptyDatabase


async def _tables(url: str) -> set[str]:
    database = Database(url)
    try:
        async with database.engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await database.dispose()


async def test_migrations_apply_from_empty_and_round_trip(empty_database: EmptyDatabase) -> None:
    url = empty_database.url
    await asyncio.to_thread(migrate.upgrade, url)
    upgraded = await _tables(url)
    assert {"users", "teams", "team_memberships", "api_keys"} <= upgraded
    await asyncio.to_thread(migrate.downgrade, url, "base")
    assert await _tables(url) <= {"alembic_version"}
    await asyncio.to_thread(migrate.upgrade, url)
    assert await _tables(url) == upgraded


async def test_migrations_match_the_models(migrated_database: Database) -> None:
    def diff(conn: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))

    async with migrated_database.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
