from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from fireline.cli import app
from fireline.core.db import Database
from fireline.vault import rotation
from fireline.vault.keyring import MasterKey
from fireline.vault.rotation import rewrap_all
from fireline.vault.sealing import VaultError
from tests.vault.conftest import ROWS, SEALED, SealedRows, new_key, vault_of


async def test_cry7_seal_rotate_remove_old_key_all_open(sealed_rows: SealedRows) -> None:
    k1, k2 = new_key(), new_key()
    await sealed_rows.insert(vault_of(k1), 25)
    seen: list[tuple[int, int]] = []
    rewrapped = await rewrap_all(
        database=sealed_rows.database, vault=vault_of(k2, k1), tables=[SEALED],
        batch_size=10, progress=lambda done, total: seen.append((done, total)),
    )
    assert rewrapped == 25
    assert seen == [(10, 25), (20, 25), (25, 25)]
    assert await sealed_rows.read_all(vault_of(k2)) == sealed_rows.plaintexts
    with pytest.raises(VaultError):
        await sealed_rows.read_all(vault_of(k1))


async def test_cry7_second_rotation_is_a_no_op(sealed_rows: SealedRows) -> None:
    k1, k2 = new_key(), new_key()
    await sealed_rows.insert(vault_of(k1), 5)
    assert await rewrap_all(
        database=sealed_rows.database, vault=vault_of(k2, k1), tables=[SEALED]) == 5
    assert await rewrap_all(
        database=sealed_rows.database, vault=vault_of(k2, k1), tables=[SEALED]) == 0
    assert await sealed_rows.read_all(vault_of(k2)) == sealed_rows.plaintexts


async def test_cry7_interrupted_rotation_resumes(sealed_rows: SealedRows) -> None:
    k1, k2 = new_key(), new_key()
    await sealed_rows.insert(vault_of(k1), 12)

    def crash(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await rewrap_all(database=sealed_rows.database, vault=vault_of(k2, k1),
                         tables=[SEALED], batch_size=5, progress=crash)
    # The first batch committed before the crash; the re-run does only the rest.
    assert await rewrap_all(database=sealed_rows.database, vault=vault_of(k2, k1),
                            tables=[SEALED], batch_size=5) == 7
    assert await sealed_rows.read_all(vault_of(k2)) == sealed_rows.plaintexts


def _encoded(key: MasterKey) -> str:
    return base64.b64encode(key.material).decode()


def test_cry7_cli_keys_rotate(
    sealed_rows: SealedRows, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    k1, k2 = new_key(), new_key()
    url = sealed_rows.database.url

    async def seed() -> None:
        database = Database(url)
        try:
            await SealedRows(database, sealed_rows.plaintexts).insert(vault_of(k1), 7)
        finally:
            await database.dispose()

    async def read() -> dict[str, bytes]:
        database = Database(url)
        try:
            return await SealedRows(database, {}).read_all(vault_of(k2))
        finally:
            await database.dispose()

    asyncio.run(seed())
    monkeypatch.setattr(rotation, "SEALED_TABLES", [SEALED])
    monkeypatch.setenv("FIRELINE_HOME", str(tmp_path))
    monkeypatch.setenv("FIRELINE_DATABASE_URL", url)
    monkeypatch.setenv("FIRELINE_MASTER_KEY", f"{_encoded(k2)},{_encoded(k1)}")
    result = CliRunner().invoke(app, ["keys", "rotate", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert f"re-wrapped 7 data keys under master key {k2.key_id}" in result.output
    assert asyncio.run(read()) == sealed_rows.plaintexts
    again = CliRunner().invoke(app, ["keys", "rotate"])
    assert again.exit_code == 0, again.output
    assert "re-wrapped 0 data keys" in again.output


def test_cli_keys_rotate_refuses_a_bad_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FIRELINE_HOME", str(tmp_path))
    monkeypatch.setenv("FIRELINE_MASTER_KEY", "c2hvcnQ=")
    result = CliRunner().invoke(app, ["keys", "rotate"])
    assert result.exit_code == 2
    assert "32 bytes" in result.output


async def test_cry2_rotation_stops_loudly_at_a_tampered_key(sealed_rows: SealedRows) -> None:
    k1, k2 = new_key(), new_key()
    await sealed_rows.insert(vault_of(k1), 3)
    async with sealed_rows.database.transaction() as session:
        wrapped = (await session.execute(
            select(ROWS.c.data_key).where(ROWS.c.id == "P00001"))).scalar_one()
        tampered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
        await session.execute(
            update(ROWS).where(ROWS.c.id == "P00001").values(data_key=tampered))
    with pytest.raises(VaultError, match="vault_test_rows row P00001"):
        await rewrap_all(database=sealed_rows.database, vault=vault_of(k2, k1),
                         tables=[SEALED])
