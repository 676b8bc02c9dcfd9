"""The audit log (AUD-1, AUD-2): who did what to which target, when, with what outcome.

`record` adds the event to the caller's session (async, or the synchronous one Authlib's
OAuth grants run on) so it commits — or rolls back — with the
change it describes. `details` must never hold a secret: callers pass field names, not values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from fireline.core.clock import utcnow
from fireline.core.db import Base, UTCDateTime
from fireline.core.ids import new_id
from fireline.core.redaction import registry


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[str | None] = mapped_column(String(20), default=None)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(80))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text, default=None)


def record(
    session: AsyncSession | Session,
    *,
    actor_id: str | None,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | None,
    outcome: str = "success",
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
    message: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_id=actor_id,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        request_id=request_id,
        details=registry.scrub_value(details or {}),
        message=registry.scrub(message) if message else None,
    )
    session.add(event)
    return event
