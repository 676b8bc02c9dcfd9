"""Request limits per credential (REST) and per routing key (Events API), as PagerDuty has
them, over a sliding window.

PagerDuty limits the REST API per credential (960 requests a minute) and the Events API per
routing key, answering 429 with `ratelimit-limit`, `ratelimit-remaining` and
`ratelimit-reset`. A fixed window aligned to the clock lets a client send its limit at the end
of one minute and again at the start of the next: nearly twice the limit within seconds. A
token bucket (GCRA) allowing the limit as a burst does the same (the burst, then the refill).
So a process keeps, per key, the times of the requests it allowed in the last `window`
seconds, and allows one more only while there are fewer than `limit`: no span of `window`
seconds ever holds more than `limit` requests, and a client may still spend its limit in a
burst. `ratelimit-reset` is when the oldest of them leaves the window.

A process decides alone, from memory: no request waits for the database. With several API
nodes (PostgreSQL) each one `share`s every second: it adds the requests it allowed since the
last share to `rate_limit_counts`, one row per key and second (one statement for all), and
learns the other nodes' counts of the window's seconds, so a key gets its limit across the
nodes, not once per node. A node learns the other nodes' requests up to a second late, and
counts a second of theirs whole while any of it is in the window: the limit can be overshot by
what the others accept in that second.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import Counter, deque
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
    """Requests all nodes allowed for a key in one second (`window_index`: seconds since the
    epoch). Keys are hashed: a routing key is a credential."""

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
    # Seconds until the oldest request counted leaves the window (and one more is allowed).
    reset: int

    def headers(self) -> dict[str, str]:
        headers = {"ratelimit-limit": str(self.limit), "ratelimit-remaining": str(self.remaining),
                   "ratelimit-reset": str(self.reset)}
        if not self.allowed:  # RFC 9110 §10.2.3: when to "wait briefly and retry"
            headers["retry-after"] = str(self.reset)
        return headers


@dataclass
class _Key:
    allowed: deque[float] = field(default_factory=deque)  # this process's, oldest first
    others: dict[int, int] = field(default_factory=dict)  # second → the other nodes' count


@dataclass
class RateLimiter:
    limit: int
    window: float = 60.0
    clock: Callable[[], float] = time.time
    scope: str = "rest"
    # True once this process shares its requests (`share_every`); only then are the requests
    # still to be told kept (a single process has nobody to tell).
    sharing: bool = False
    _keys: dict[str, _Key] = field(default_factory=dict)
    _unshared: Counter[tuple[str, int]] = field(default_factory=Counter)
    # What this process told of each key's seconds, to tell its own from the others'.
    _told: dict[str, Counter[int]] = field(default_factory=dict)

    def hit(self, key: str) -> Decision:
        now = self.clock()
        since = now - self.window
        state = self._keys.get(key)
        if state is None:
            if len(self._keys) >= _MAX_KEYS:
                self._evict(since)
            state = self._keys[key] = _Key()
        allowed = state.allowed
        while allowed and allowed[0] <= since:
            allowed.popleft()
        # When each counted request leaves the window: this process's at their time plus the
        # window, the others' seconds once the whole second has left.
        leaving: list[float] = [second + 1 for second in state.others if second + 1 > since]
        used = len(allowed) + sum(state.others[int(second) - 1] for second in leaving)
        if allowed:
            leaving.append(allowed[0])
        if used >= self.limit:
            return Decision(False, self.limit, 0, max(1, math.ceil(min(leaving) - since)))
        allowed.append(now)
        if self.sharing:
            self._unshared[key, int(now)] += 1
        leaving.append(allowed[0])
        return Decision(True, self.limit, self.limit - used - 1,
                        max(1, math.ceil(min(leaving) - since)))

    def check(self, key: str) -> None:
        """Counts one request for `key`; raises the PagerDuty 429 when over the limit."""
        decision = self.hit(key)
        if not decision.allowed:
            raise RateLimitedError(headers=decision.headers())

    async def share(self, database: Database) -> None:
        """Adds this process's requests since the last call to the shared counts, learns the
        other nodes' counts of the window for the keys it limits, and forgets older ones."""
        self.sharing = True
        pending, self._unshared = self._unshared, Counter()
        now = self.clock()
        first = math.floor(now - self.window)  # the oldest second still in the window
        known = {_hash(key): key for key, state in self._keys.items()
                 if (state.allowed and state.allowed[-1] > now - self.window)
                 or any(second >= first for second in state.others)}
        if not pending and not known:
            return
        try:
            async with database.transaction() as session:
                if pending:
                    await session.execute(self._add(database, pending))
                    await session.execute(delete(RateLimitCount).where(
                        RateLimitCount.scope == self.scope,
                        RateLimitCount.window_index < first))
                rows = (await session.execute(
                    select(RateLimitCount.key_hash, RateLimitCount.window_index,
                           RateLimitCount.count).where(
                        RateLimitCount.scope == self.scope,
                        RateLimitCount.window_index >= first,
                        RateLimitCount.key_hash.in_(list(known))))).all() if known else []
        except Exception:
            self._unshared.update(pending)  # not written: told again next time
            raise
        for (key, second), count in pending.items():
            self._told.setdefault(key, Counter())[second] += count
        for told in self._told.values():
            for second in [second for second in told if second < first]:
                del told[second]
        learned: dict[str, dict[int, int]] = {}
        for key_hash, second, total in rows:
            key = known[key_hash]
            theirs = total - self._told.get(key, Counter())[second]
            if theirs > 0:
                learned.setdefault(key, {})[second] = theirs
        for key in known.values():
            self._keys[key].others = learned.get(key, {})
        for key in [key for key, told in self._told.items() if not told]:
            del self._told[key]

    def _add(self, database: Database, pending: Counter[tuple[str, int]]) -> Any:
        """One statement adding each (key, second)'s new requests to the shared counts."""
        table = RateLimitCount.__table__.c
        insert = insert_for_dialect(database.engine.dialect.name)(RateLimitCount)
        return insert.values([
            {"scope": self.scope, "key_hash": _hash(key), "window_index": second,
             "count": count} for (key, second), count in pending.items()
        ]).on_conflict_do_update(
            index_elements=[table.scope, table.key_hash, table.window_index],
            set_={"count": table.count + insert.excluded.count})

    def _evict(self, since: float) -> None:
        for key in [key for key, state in self._keys.items()
                    if not state.allowed or state.allowed[-1] <= since]:
            del self._keys[key]


async def share_every(database: Database, limiters: list[RateLimiter], seconds: float) -> None:
    """Runs until cancelled: each limiter shares its requests every `seconds`. A failed share
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


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
