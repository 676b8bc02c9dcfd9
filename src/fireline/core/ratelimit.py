"""Fixed-window request limits, kept in process memory.

PagerDuty limits the REST API per credential (960 requests a minute) and the Events API per
routing key, answering 429 with `ratelimit-limit`, `ratelimit-remaining` and
`ratelimit-reset` (seconds until the window resets). Windows are per process: with N API
nodes a credential gets up to N times the limit. A shared limit needs the database or a
shared store; that is the scale-out follow-up.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fireline.core.errors import RateLimitedError

_MAX_KEYS = 100_000


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {"ratelimit-limit": str(self.limit), "ratelimit-remaining": str(self.remaining),
                "ratelimit-reset": str(self.reset)}


@dataclass
class RateLimiter:
    limit: int
    window: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    def hit(self, key: str) -> Decision:
        now = self.clock()
        started, count = self._windows.get(key, (now, 0))
        if now - started >= self.window:
            started, count = now, 0
        reset = max(1, math.ceil(started + self.window - now))
        if count >= self.limit:
            return Decision(False, self.limit, 0, reset)
        if len(self._windows) >= _MAX_KEYS and key not in self._windows:
            self._evict(now)
        self._windows[key] = (started, count + 1)
        return Decision(True, self.limit, self.limit - count - 1, reset)

    def check(self, key: str) -> None:
        """Counts one request for `key`; raises the PagerDuty 429 when over the limit."""
        decision = self.hit(key)
        if not decision.allowed:
            raise RateLimitedError(headers=decision.headers())

    def _evict(self, now: float) -> None:
        self._windows = {key: value for key, value in self._windows.items()
                         if now - value[0] < self.window}
