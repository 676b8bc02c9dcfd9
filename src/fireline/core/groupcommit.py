"""Group commit: work items submitted by concurrent requests, applied in shared transactions.

The contract:
- `submit` returns an item's result only after the transaction that applied it COMMITTED;
  a caller that was answered never loses its write. A failed commit fails its callers.
- Items are applied in submission order; while one batch is being written, new items queue
  and become the next batch (no timer: an idle system writes one item per transaction).
- Outcomes stay independent: when anything in a batch raises, that transaction is rolled
  back and each of its items is applied again alone, in its own transaction, so one bad
  item fails only its own caller (this also settles a deadlock between batches).
- No task lives while the queue is empty; `close` waits for the queued items to commit.

Why: a transaction's fixed cost (SQLite: `BEGIN IMMEDIATE`, the write lock handed over
through the busy timeout, the commit) dominates a small write; sharing it between the
requests that arrive together is how intake outruns one-transaction-per-request.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Sequence
from typing import Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from fireline.core.db import Database
from fireline.core.logging import get_logger

T = TypeVar("T")
R = TypeVar("R")
T_contra = TypeVar("T_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


class ApplyBatch(Protocol[T_contra, R_co]):
    """Applies `items` in order inside `session`'s transaction; one result per item."""

    def __call__(
        self, *, session: AsyncSession, items: Sequence[T_contra]
    ) -> Awaitable[Sequence[R_co]]: ...

log = get_logger("fireline.groupcommit")


class GroupCommit(Generic[T, R]):
    def __init__(self, database: Database, apply: ApplyBatch[T, R], *,
                 max_batch: int = 200) -> None:
        self._database = database
        self._apply = apply
        self._max_batch = max_batch
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Applies `item` in a shared transaction; returns its result once committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None or self._task.done():
            # A fresh context: the writer serves many requests, it must not log as the first.
            self._task = asyncio.create_task(self._drain(), context=contextvars.Context())
        return await future

    async def close(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                await self._write(batch)
            except BaseException as exc:  # cancelled: nobody is told "done" for unwritten work
                for _, future in batch:
                    _fail(future, exc)
                raise

    async def _write(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            async with self._database.transaction() as session:
                results = await self._apply(session=session, items=items)
        except Exception as exc:
            if len(batch) == 1:
                _fail(batch[0][1], exc)
                return
            log.warning("group_commit_batch_failed", size=len(batch), error=type(exc).__name__)
            for item, future in batch:
                await self._write([(item, future)])
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # done: the caller went away; its item was still applied
                future.set_result(result)


def _fail(future: asyncio.Future[R], error: BaseException) -> None:
    if future.done():
        return
    if isinstance(error, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(error)
