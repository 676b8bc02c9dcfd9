from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fireline.core.db import Database
from fireline.core.groupcommit import GroupCommit
from fireline.incidents.models import IncidentCounter


async def _insert_counters(*, session, items: Sequence[str]) -> list[str]:  # type: ignore[no-untyped-def]
    for name in items:
        if name.startswith("bad"):
            raise ValueError(name)
        session.add(IncidentCounter(name=name, value=len(name)))
    await session.flush()
    return [f"stored {name}" for name in items]


async def _stored(db: Database) -> set[str]:
    async with db.session() as session:
        return set(await session.scalars(select(IncidentCounter.name)))


async def test_concurrent_submissions_share_transactions_and_are_committed_when_answered(
    db: Database,
) -> None:
    batches: list[int] = []

    async def apply(*, session, items: Sequence[str]) -> list[str]:  # type: ignore[no-untyped-def]
        batches.append(len(items))
        return await _insert_counters(session=session, items=items)

    writer: GroupCommit[str, str] = GroupCommit(db, apply)
    names = [f"counter-{n}" for n in range(20)]
    results = await asyncio.gather(*(writer.submit(name) for name in names))
    assert results == [f"stored {name}" for name in names]
    assert await _stored(db) == set(names)
    assert sum(batches) == 20 and len(batches) < 20  # grouped, nothing applied twice
    await writer.close()


async def test_one_failing_item_fails_only_its_own_caller(db: Database) -> None:
    writer: GroupCommit[str, str] = GroupCommit(db, _insert_counters)
    names = ["good-1", "bad-1", "good-2", "good-3"]
    results = await asyncio.gather(*(writer.submit(name) for name in names),
                                   return_exceptions=True)
    assert results[0] == "stored good-1" and results[2:] == ["stored good-2", "stored good-3"]
    assert isinstance(results[1], ValueError)
    assert await _stored(db) == {"good-1", "good-2", "good-3"}
    await writer.close()


async def test_a_failed_transaction_is_never_acknowledged(db: Database) -> None:
    async with db.transaction() as session:
        session.add(IncidentCounter(name="taken", value=1))

    async def clash(*, session, items: Sequence[str]) -> list[str]:  # type: ignore[no-untyped-def]
        for name in items:
            session.add(IncidentCounter(name=name, value=1))
        session.add(IncidentCounter(name="taken", value=2))  # the primary key exists
        await session.flush()
        return ["ok" for _ in items]

    writer: GroupCommit[str, str] = GroupCommit(db, clash)
    results = await asyncio.gather(writer.submit("solo"), writer.submit("other"),
                                   return_exceptions=True)
    assert all(isinstance(result, IntegrityError) for result in results)
    assert await _stored(db) == {"taken"}
    await writer.close()
