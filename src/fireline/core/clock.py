from __future__ import annotations

import functools
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


@functools.lru_cache(maxsize=8192)
def isoformat(value: datetime) -> str:
    """`2026-11-23T15:33:54Z`: UTC, whole seconds (a naive value is taken as UTC).

    Memoized: it is pure, and a list renders the same timestamps again and again (an
    incident's creation, update and status change share one at first; pages are re-read)."""
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # datetime.isoformat is C and faster than strftime; lists call this a lot. Its first 19
    # characters are the date and time, without any offset.
    return value.isoformat(timespec="seconds")[:19] + "Z"


def utc_bound(value: datetime | None) -> datetime | None:
    """A query's time bound in UTC; a naive one is taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # Within a day of the calendar's ends (year 1 or 9999 with an offset): in UTC it is
        # before or after every stored time, as the calendar's first or last instant is.
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)
