"""Fixed-window request limits, like PagerDuty's.

PagerDuty limits the REST API per credential (960 requests a minute) and the Events API per
routing key, answering 429 with `ratelimit-limit`, `ratelimit-remaining` and
`ratelimit-reset` (seconds until the window resets).

Windows are aligned to the clock (each minute of the epoch), so that every node counts the
same window. A process counts its own requests in memory and decides alone: no request
waits for the database. With several API nodes (PostgreSQL), each one `share`s every second:
it adds its new counts to `rate_limit_counts` in one statement and learns the totals, so a
credential gets its limit across all the nodes, not once per node. A node learns the other
nodes' requests up to a second late: the limit can be overshot by what the others accept in
that second.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from fireline.core.db import Base, Database, insert_for_dialect
from fireline.core.errors import RateLimitedError
from fireline.core.logging import get_logger

log = get_logger("fireline.ratelimit")

_MAX_KEYS = 100_000


class RateLimitCount(Base):
    """Requests counted by all nodes in one window. Keys are hashed: a routing key is a
    credential."""

    __tablename__ = "rate_limit_counts"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        headers = {"ratelimit-limit": str(self.limit), "ratelimit-remaining": str(self.remaining),
                   "ratelimit-reset": str(self.reset)}
        if not self.allowed:  # RFC 9110 §10.2.3: when to "wait briefly and retry"
            headers["retry-after"] = str(self.reset)
        return headers


@dataclass
class RateLimiter:
    limit: int
    window: float = 60.0
    clock: Callable[[], float] = time.time
    scope: str = "rest"
    # key -> (window index, requests): this process's, and the other nodes' as last shared.
    _mine: dict[str, tuple[int, int]] = field(default_factory=dict)
    _others: dict[str, tuple[int, int]] = field(default_factory=dict)
    # True once this process shares its counts (`share_every`); only then are the requests
    # still to be told kept (a single process has nobody to tell).
    sharing: bool = False
    _unshared: Counter[tuple[str, int]] = field(default_factory=Counter)
    _shared_mine: dict[str, tuple[int, int]] = field(default_factory=dict)

    def hit(self, key: str) -> Decision:
        now = self.clock()
        index = int(now // self.window)
        reset = max(1, math.ceil((index + 1) * self.window - now))
        mine = _in(self._mine.get(key), index)
        used = mine + _in(self._others.get(key), index)
        if used >= self.limit:
            return Decision(False, self.limit, 0, reset)
        if len(self._mine) >= _MAX_KEYS and key not in self._mine:
            self._evict(index)
        self._mine[key] = (index, mine + 1)
        if self.sharing:
            self._unshared[key, index] += 1
        return Decision(True, self.limit, self.limit - used - 1, reset)

    def check(self, key: str) -> None:
        """Counts one request for `key`; raises the PagerDuty 429 when over the limit."""
        decision = self.hit(key)
        if not decision.allowed:
            raise RateLimitedError(headers=decision.headers())

    async def share(self, database: Database) -> None:
        """Adds this process's requests since the last call to the shared counts, learns the
        current window's totals of the keys it counts, and forgets finished windows."""
        self.sharing = True
        pending, self._unshared = self._unshared, Counter()
        index = int(self.clock() // self.window)
        known = {_hash(key): key for key, (window, _) in self._mine.items() if window == index}
        if not pending and not known:
            return
        try:
            async with database.transaction() as session:
                if pending:
                    await session.execute(self._add(database, pending))
                    await session.execute(delete(RateLimitCount).where(
                        RateLimitCount.scope == self.scope,
                        RateLimitCount.window_index < index - 1))
                totals = (await session.execute(
                    select(RateLimitCount.key_hash, RateLimitCount.count).where(
                        RateLimitCount.scope == self.scope,
                        RateLimitCount.window_index == index))).all()
        except Exception:
            self._unshared.update(pending)  # not written: told again next time
            raise
        for (key, window), count in pending.items():
            self._shared_mine[key] = (window, _in(self._shared_mine.get(key), window) + count)
        for key_hash, total in totals:
            if (counted := known.get(key_hash)) is not None:
                self._others[counted] = (
                    index, total - _in(self._shared_mine.get(counted), index))

    def _add(self, database: Database, pending: Counter[tuple[str, int]]) -> Any:
        """One statement adding each (key, window)'s new requests to the shared counts."""
        table = RateLimitCount.__table__.c
        insert = insert_for_dialect(database.engine.dialect.name)(RateLimitCount)
        return insert.values([
            {"scope": self.scope, "key_hash": _hash(key), "window_index": window,
             "count": count} for (key, window), count in pending.items()
        ]).on_conflict_do_update(
            index_elements=[table.scope, table.key_hash, table.window_index],
            set_={"count": table.count + insert.excluded.count})

    def _evict(self, index: int) -> None:
        for counts in (self._mine, self._others, self._shared_mine):
            for key in [key for key, (window, _) in counts.items() if window != index]:
                del counts[key]


async def share_every(database: Database, limiters: list[RateLimiter], seconds: float) -> None:
    """Runs until cancelled: each limiter shares its counts every `seconds`. A failed share
    is logged and retried with the next (requests are still limited per node meanwhile)."""
    for limiter in limiters:
        limiter.sharing = True
    while True:
        await asyncio.sleep(seconds)
        for limiter in limiters:
            try:
                await limiter.share(database)
            except Exception as exc:  # the database may be briefly unreachable
                log.warning("rate_limit_share_failed", scope=limiter.scope,
                            error=type(exc).__name__)


def _in(counted: tuple[int, int] | None, index: int) -> int:
    """The count of window `index`, or 0 when what is counted belongs to another window."""
    return counted[1] if counted is not None and counted[0] == index else 0


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
