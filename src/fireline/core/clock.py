from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(value: datetime) -> str:
    """`2026-11-23T15:33:54Z`: UTC, whole seconds (a naive value is taken as UTC)."""
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # datetime.isoformat is C and faster than strftime; lists call this a lot. Its first 19
    # characters are the date and time, without any offset.
    return value.isoformat(timespec="seconds")[:19] + "Z"
