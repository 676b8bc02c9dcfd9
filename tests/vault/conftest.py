"""A small table of sealed rows, created in the test database and dropped afterwards."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Column, LargeBinary, MetaData, String, Table, insert, select

from fireline.core.db import Database
from fireline.vault.keyring import Keyring, MasterKey, decode_key
from fireline.vault.rotation import SealedTable
from fireline.vault.sealing import Place, Vault

_metadata = MetaData()
ROWS = Table(
    "vault_test_rows",
    _metadata,
    Column("id", String(32), primary_key=True),
    Column("data_key", LargeBinary, nullable=False),
    Column("token", LargeBinary, nullable=False),
)
SEALED = SealedTable("vault_test_rows", "id", "data_key")


def new_key() -> MasterKey:
    return decode_key(base64.b64encode(secrets.token_bytes(32)).decode(), source="test")


def vault_of(*keys: MasterKey) -> Vault:
    return Vault(Keyring(keys))


def place(row_id: str) -> Place:
    return Place("vault_test_rows", row_id, "token")


@dataclass
class SealedRows:
    database: Database
    plaintexts: dict[str, bytes]

    async def insert(self, vault: Vault, count: int) -> None:
        async with self.database.transaction() as session:
            for index in range(count):
                row_id = f"P{index:05d}"
                plaintext = f"token-{secrets.token_hex(8)}".encode()
                wrapped = vault.new_data_key(table=SEALED.table, row_id=row_id)
                blob = vault.seal(plaintext, wrapped_key=wrapped, place=place(row_id))
                await session.execute(
                    insert(ROWS).values(id=row_id, data_key=wrapped, token=blob)
                )
                self.plaintexts[row_id] = plaintext

    async def read_all(self, vault: Vault) -> dict[str, bytes]:
        async with self.database.session() as session:
            rows = (await session.execute(select(ROWS))).all()
        return {
            row.id: vault.unseal(row.token, wrapped_key=row.data_key, place=place(row.id))
            for row in rows
        }


@pytest.fixture
async def sealed_rows(db: Database) -> AsyncIterator[SealedRows]:
    async with db.engine.begin() as conn:
        await conn.run_sync(_metadata.create_all)
    try:
        yield SealedRows(db, {})
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(_metadata.drop_all)
