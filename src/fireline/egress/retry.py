"""Back-off between attempts: exponential with full jitter, or what `Retry-After` asks for."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from fireline.core.clock import utcnow


def retry_after(headers: httpx.Headers, *, now: datetime | None = None) -> float | None:
    """Seconds the server asked us to wait (RFC 9110 §10.2.3: delay-seconds or HTTP-date)."""
    raw = headers.get("retry-after", "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return float(raw)
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or utcnow())).total_seconds())


def backoff(attempt: int, *, base: float, cap: float, jitter: Callable[[], float]) -> float:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter")."""
    return jitter() * min(cap, base * 2.0 ** (attempt - 1))
