"""Issue 19: the embedded SQLite default keeps what it acknowledged through a power loss —
WAL with `synchronous=FULL` (an fsync of the WAL at every commit), read back from a fresh
database as the served process opens it; `FIRELINE_SQLITE_SYNCHRONOUS=normal` is the
documented opt-out (a process crash still loses nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from fireline.core.db import Database
from fireline.settings import Settings, SettingsError

FULL, NORMAL = 2, 1  # PRAGMA synchronous's answers


async def _pragmas(database: Database) -> tuple[str, int]:
    async with database.session() as session:
        mode = await session.scalar(text("PRAGMA journal_mode"))
        synchronous = await session.scalar(text("PRAGMA synchronous"))
    await database.dispose()
    return str(mode), int(synchronous or 0)


@pytest.mark.parametrize(("env", "expected"), [
    ({}, FULL), ({"FIRELINE_SQLITE_SYNCHRONOUS": "normal"}, NORMAL),
    ({"FIRELINE_SQLITE_SYNCHRONOUS": "FULL"}, FULL),
])
async def test_a_fresh_database_commits_as_the_setting_says(
    tmp_path: Path, env: dict[str, str], expected: int
) -> None:
    settings = Settings.from_env({"FIRELINE_HOME": str(tmp_path), **env})
    database = Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    assert await _pragmas(database) == ("wal", expected)


def test_an_unknown_synchronous_setting_is_refused() -> None:
    with pytest.raises(SettingsError, match="FIRELINE_SQLITE_SYNCHRONOUS must be full or"):
        Settings.from_env({"FIRELINE_SQLITE_SYNCHRONOUS": "off"})
