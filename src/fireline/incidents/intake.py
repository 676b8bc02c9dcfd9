"""Events API v2 intake: trigger, acknowledge and resolve events routed by integration key.

- trigger: the event's `dedup_key` (generated when absent) is the incident's
  `incident_key`. With an open incident under that key on the service, the event becomes an
  alert on it; otherwise a new incident opens. Concurrent identical triggers race on the
  partial unique index (WF-2); losers append to the winner, so exactly one incident exists.
- acknowledge / resolve: act on the open incident with that key; with none, the event is
  accepted and changes nothing (PagerDuty does the same).
- severity → urgency: critical and error are high, warning and info low.

Events are applied in batches (`apply_events`, driven by `core.groupcommit`): concurrent
requests share one transaction, and each is answered only after it committed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.core.clock import utcnow
from fireline.core.ids import new_id
from fireline.incidents import catalog, lifecycle
from fireline.incidents.models import Alert, Incident, ServiceIntegration
from fireline.incidents.timeline import Agent

# The hot path's statements, built once over the tables (Core): a deduplicated trigger
# loads no ORM object and constructs no SQL.
_INCIDENTS = cast(Table, Incident.__table__).c
_INTEGRATIONS = cast(Table, ServiceIntegration.__table__).c
_FIND_ROUTES = select(
    _INTEGRATIONS.id, _INTEGRATIONS.service_id, _INTEGRATIONS.routing_key,
).where(_INTEGRATIONS.routing_key.in_(bindparam("routing_keys", expanding=True)))
# Finds the open incident and counts one more alert on it in one statement; the increment
# is the database's, so concurrent appends never lose one.
_COUNT_ALERT = (
    update(cast(Table, Incident.__table__))
    .where(_INCIDENTS.service_id == bindparam("match_service_id"),
           _INCIDENTS.incident_key == bindparam("match_incident_key"),
           _INCIDENTS.status != "resolved")
    .values(alert_count=_INCIDENTS.alert_count + 1, updated_at=bindparam("now"))
    .returning(_INCIDENTS.id)
)
_INSERT_ALERT = insert(cast(Table, Alert.__table__))
URGENCY = {"critical": "high", "error": "high", "warning": "low", "info": "low"}


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Link(_Closed):
    href: str = Field(max_length=2048)
    text: str | None = Field(default=None, max_length=1024)


class Image(_Closed):
    src: str = Field(max_length=2048)
    href: str | None = Field(default=None, max_length=2048)
    alt: str | None = Field(default=None, max_length=1024)


class Payload(_Closed):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=1024)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: Any = None


class Event(_Closed):
    routing_key: str = Field(min_length=1, max_length=64)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)
    payload: Payload | None = None
    client: str | None = None
    client_url: str | None = None
    # Some senders (Alertmanager) write `null` for an empty list.
    links: list[Link] | None = Field(default=None, max_length=100)
    images: list[Image] | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _required_by_action(self) -> Event:
        if self.event_action == "trigger" and self.payload is None:
            raise ValueError("'payload' is missing or null")
        if self.event_action != "trigger" and not self.dedup_key:
            raise ValueError("'dedup_key' is required for acknowledge and resolve events")
        return self


@dataclass(frozen=True)
class Route:
    """Where a routing key leads: just the ids, so a deduplicated trigger loads no objects."""

    integration_id: str
    service_id: str


async def find_routes(
    *, session: AsyncSession, routing_keys: Iterable[str]
) -> dict[str, Route]:
    rows = await session.execute(_FIND_ROUTES, {"routing_keys": list(set(routing_keys))})
    return {row.routing_key: Route(row.id, row.service_id) for row in rows}


async def apply_events(*, session: AsyncSession, items: Sequence[Event]) -> list[str | None]:
    """Applies events in order in the caller's transaction (one group commit); each result
    is the event's dedup key, or None for an unknown routing key."""
    routes = await find_routes(session=session, routing_keys=[item.routing_key for item in items])
    alerts: list[dict[str, Any]] = []
    results: list[str | None] = []
    for event in items:
        route = routes.get(event.routing_key)
        results.append(None if route is None else await _apply(session, route, event, alerts))
    if alerts:  # one statement for the batch's alerts; their incidents exist by now
        await session.execute(_INSERT_ALERT, alerts)
    return results


async def _apply(
    session: AsyncSession, route: Route, event: Event, alerts: list[dict[str, Any]]
) -> str:
    if event.event_action == "trigger":
        assert event.payload is not None
        dedup_key = event.dedup_key or uuid.uuid4().hex
        alerts.append(await _trigger(session, route, event, event.payload, dedup_key))
        return dedup_key
    assert event.dedup_key is not None
    incident = await lifecycle.find_open(
        session=session, service_id=route.service_id, incident_key=event.dedup_key)
    if incident is not None:
        status: Literal["acknowledged", "resolved"] = (
            "acknowledged" if event.event_action == "acknowledge" else "resolved")
        lifecycle.change_status(session=session, incident=incident,
                                agent=Agent.service(incident.service), status=status,
                                channel=_channel(event, route))
        await session.flush()
    return event.dedup_key


def _channel(event: Event, route: Route) -> dict[str, Any]:
    channel: dict[str, Any] = {"integration_id": route.integration_id}
    if event.payload is not None:
        channel |= {"summary": event.payload.summary,
                    "details": event.payload.custom_details,
                    "severity": event.payload.severity}
    if event.client:
        channel |= {"client": event.client, "client_url": event.client_url}
    return channel


async def _trigger(
    session: AsyncSession, route: Route, event: Event, payload: Payload, dedup_key: str
) -> dict[str, Any]:
    """Counts the alert on the open incident (opening one if none) and returns its row."""
    incident_id = await _count_alert(session, route.service_id, dedup_key)
    if incident_id is None:
        service = await catalog.get_service(session=session, service_id=route.service_id)
        incident = await lifecycle.open_incident(
            session=session, agent=Agent.service(service), data=lifecycle.NewIncident(
                service=service, title=payload.summary, urgency=URGENCY[payload.severity],
                incident_key=dedup_key, details=_details(payload),
                trigger_channel=_channel(event, route),
                assignees=[item.user for item in service.on_call], alert_count=1,
            ))
        # None: a concurrent trigger opened it first (WF-2); append to that one.
        incident_id = incident.id if incident else await _count_alert(
            session, route.service_id, dedup_key)
        assert incident_id is not None
    return {
        "id": new_id(), "incident_id": incident_id, "dedup_key": dedup_key,
        "summary": payload.summary, "severity": payload.severity,
        "body": event.model_dump(mode="json", by_alias=True, exclude={"routing_key"}),
        "created_at": utcnow(),
    }


async def _count_alert(session: AsyncSession, service_id: str, dedup_key: str) -> str | None:
    found: str | None = await session.scalar(
        _COUNT_ALERT,
        {"match_service_id": service_id, "match_incident_key": dedup_key, "now": utcnow()})
    return found


def _details(payload: Payload) -> str:
    if isinstance(payload.custom_details, str):
        return payload.custom_details
    if payload.custom_details is None:
        return ""
    return json.dumps(payload.custom_details, indent=2, sort_keys=True)
