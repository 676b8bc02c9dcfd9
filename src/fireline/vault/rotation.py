"""Master-key rotation (CRY-7): re-wrap every data key under the active master key.

Only the 32-byte data keys are re-wrapped (CRY-8); sealed payloads stay as they are. The walk
is batched and each batch commits on its own, so an interrupted run keeps its progress and a
re-run continues where it stopped; rows already under the active key are skipped, so a second
run re-wraps nothing. A row whose key changed while we worked (a concurrent update) is left
alone: the update compares the old bytes before writing.

Packages that store sealed data register their table in `SEALED_TABLES` at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import LargeBinary, String, and_, column, func, select, table, update
from sqlalchemy.sql.expression import TableClause

from fireline.core.db import Database
from fireline.vault.sealing import Vault, VaultError


@dataclass(frozen=True)
class SealedTable:
    table: str
    id_column: str
    key_column: str


SEALED_TABLES: list[SealedTable] = []


async def rewrap_all(
    *,
    database: Database,
    vault: Vault,
    tables: Sequence[SealedTable],
    batch_size: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Re-wraps every data key not under the active key; returns how many were re-wrapped.

    `progress(done, total)` is called after each batch with rows visited so far and the total.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    total = 0
    async with database.session() as session:
        for sealed in tables:
            total += (await session.execute(select(func.count()).select_from(_table(sealed)))
                      ).scalar_one()
    done = rewrapped = 0
    for sealed in tables:
        t = _table(sealed)
        id_col, key_col = t.c[sealed.id_column], t.c[sealed.key_column]
        last_id: str | None = None
        while True:
            async with database.transaction() as session:
                query = select(id_col, key_col).order_by(id_col).limit(batch_size)
                if last_id is not None:
                    query = query.where(id_col > last_id)
                rows = (await session.execute(query)).all()
                for row_id, wrapped in rows:
                    try:
                        if wrapped is None or not vault.needs_rewrap(wrapped):
                            continue
                        fresh = vault.rewrap(wrapped, table=sealed.table, row_id=row_id)
                    except VaultError as exc:  # CRY-2: stop loudly, and say where
                        raise VaultError(f"{sealed.table} row {row_id}: {exc}") from None
                    result = await session.execute(
                        update(t).where(and_(id_col == row_id, key_col == wrapped))
                        .values({sealed.key_column: fresh})
                    )
                    rewrapped += result.rowcount  # type: ignore[attr-defined]
            if not rows:
                break
            last_id = rows[-1][0]
            done += len(rows)
            if progress is not None:
                progress(min(done, total), total)
            if len(rows) < batch_size:
                break
    return rewrapped


def _table(sealed: SealedTable) -> TableClause:
    return table(
        sealed.table, column(sealed.id_column, String), column(sealed.key_column, LargeBinary)
    )
