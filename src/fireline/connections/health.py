"""Verification and health: one probe, its outcome, and its record.

A probe is the integration's read-only `verify`, run through the guarded client with the
connection's own destination and secrets. Its outcome becomes the connection's status
(`Healthy` / `Unhealthy`) and a row of history; a flip between the two writes an audit event
and a log line. Messages are scrubbed of every registered secret before they are stored.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from fireline.connections.models import HEALTHY, UNHEALTHY, Connection, HealthCheck
from fireline.connections.tools import Tools, parse_networks
from fireline.core import audit
from fireline.core.clock import utcnow
from fireline.core.errors import IntegrationError
from fireline.core.ids import new_id
from fireline.core.logging import get_logger
from fireline.core.redaction import scrub
from fireline.integrations.base import Integration

log = get_logger("fireline.connections.health")

VERIFY_TIMEOUT = 30.0
MAX_BACKOFF_FACTOR = 12


@dataclass(frozen=True)
class Outcome:
    is_healthy: bool
    message: str
    duration_ms: int
    checked_at: datetime


async def probe(
    tools: Tools,
    integration: Integration,
    *,
    connection_id: str,
    config: Any,
    secrets: Any,
    external_id: str | None,
    allow_private: list[str],
) -> Outcome:
    started = time.perf_counter()
    try:
        async with tools.context(
            integration,
            connection_id=connection_id,
            config=config,
            secrets=secrets,
            external_id=external_id,
            allow_private=parse_networks(allow_private),
        ) as ctx:
            # asyncio.timeout rather than wait_for: no extra task per check.
            async with asyncio.timeout(VERIFY_TIMEOUT):
                message = await integration.verify(ctx)
        healthy = True
    except TimeoutError:
        healthy, message = False, f"No answer within {VERIFY_TIMEOUT:.0f} seconds"
    except IntegrationError as exc:
        healthy, message = False, str(exc) or type(exc).__name__
    except Exception as exc:  # an integration bug must not take the caller down with it
        healthy, message = False, _crash_message(integration, exc)
    duration = int((time.perf_counter() - started) * 1000)
    return Outcome(healthy, scrub(message)[:1000], duration, utcnow())


def _crash_message(integration: Integration, exc: Exception) -> str:
    """Safe to show (the class, never the message, which may quote a secret), and enough to
    find the traceback: the request id, or for a periodic check one made up and logged."""
    request_id = structlog.contextvars.get_contextvars().get("request_id") or uuid.uuid4().hex
    log.exception("verify_crashed", integration=integration.slug, request_id=request_id)
    return (f"Verification failed unexpectedly ({type(exc).__name__}); "
            f"request id {request_id} in the server log")


def transition(
    connection: Connection, outcome: Outcome, *, interval: timedelta
) -> dict[str, Any]:
    """The connection's new health fields after `outcome`: the next check after `interval`,
    longer for a connection that keeps failing."""
    failures = 0 if outcome.is_healthy else connection.health_failures + 1
    factor = min(2 ** max(failures - 1, 0), MAX_BACKOFF_FACTOR)
    return {
        "health_status": HEALTHY if outcome.is_healthy else UNHEALTHY,
        "health_message": outcome.message,
        "health_checked_at": outcome.checked_at,
        "health_failures": failures,
        "health_next_check_at": outcome.checked_at + interval * factor,
    }


def history_row(connection_id: str, outcome: Outcome, trigger: str) -> dict[str, Any]:
    return {
        "id": new_id(),
        "connection_id": connection_id,
        "checked_at": outcome.checked_at,
        "is_healthy": outcome.is_healthy,
        "message": outcome.message,
        "trigger": trigger,
        "duration_ms": outcome.duration_ms,
    }


def record_flip(
    session: AsyncSession | Session,
    connection: Connection,
    new_status: str,
    *,
    trigger: str,
    message: str,
    request_id: str | None = None,
) -> None:
    """A change between Healthy and Unhealthy is audited and logged (not the first check)."""
    previous = connection.health_status
    if previous not in {HEALTHY, UNHEALTHY} or previous == new_status:
        return
    audit.record(
        session,
        actor_id=None,
        actor="fireline",
        action="connection.health_changed",
        target_type="connection",
        target_id=connection.id,
        request_id=request_id,
        details={"from": previous, "to": new_status, "trigger": trigger},
        message=message,
    )
    log.info(
        "connection_health_changed",
        connection_id=connection.id,
        integration=connection.integration,
        status=new_status,
    )


def apply(
    session: AsyncSession | Session,
    connection: Connection,
    outcome: Outcome,
    *,
    trigger: str,
    interval: timedelta,
    request_id: str | None = None,
) -> None:
    """Stores the outcome on the connection and in its history (in the caller's transaction)."""
    values = transition(connection, outcome, interval=interval)
    record_flip(
        session,
        connection,
        values["health_status"],
        trigger=trigger,
        message=outcome.message,
        request_id=request_id,
    )
    for name, value in values.items():
        setattr(connection, name, value)
    session.add(HealthCheck(**history_row(connection.id, outcome, trigger)))
