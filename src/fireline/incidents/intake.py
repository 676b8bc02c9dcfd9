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
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Integer, Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.core.clock import utcnow
from fireline.core.ids import new_id
from fireline.incidents import catalog, lifecycle
from fireline.incidents.models import Alert, Incident, ServiceIntegration
from fireline.incidents.timeline import Agent

# The hot path's statements, built once over the tables (Core) and run on the session's
# connection: a deduplicated trigger loads no ORM object, constructs no SQL and skips the
# ORM's execution layer.
_INCIDENTS = cast(Table, Incident.__table__).c
_INTEGRATIONS = cast(Table, ServiceIntegration.__table__).c
_FIND_ROUTES = select(
    _INTEGRATIONS.id, _INTEGRATIONS.service_id, _INTEGRATIONS.routing_key,
).where(_INTEGRATIONS.routing_key.in_(bindparam("routing_keys", expanding=True)))
# Finds the open incidents under some keys of one service and counts `n` more alerts on
# each, in one statement; the increment is the database's, so concurrent appends never
# lose one.
_COUNT_ALERTS = (
    update(cast(Table, Incident.__table__))
    .where(_INCIDENTS.service_id == bindparam("match_service_id"),
           _INCIDENTS.incident_key.in_(bindparam("match_incident_keys", expanding=True)),
           _INCIDENTS.status != "resolved")
    .values(alert_count=_INCIDENTS.alert_count + bindparam("added", type_=Integer),
            updated_at=bindparam("now"))
    .returning(_INCIDENTS.id, _INCIDENTS.incident_key)
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
    timestamp: str | None = Field(default=None, max_length=64)
    component: str | None = Field(default=None, max_length=1024)
    group: str | None = Field(default=None, max_length=1024)
    class_: str | None = Field(default=None, alias="class", max_length=1024)
    custom_details: Any = None


class Event(_Closed):
    routing_key: str = Field(min_length=1, max_length=64)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, min_length=1, max_length=255)
    payload: Payload | None = None
    client: str | None = Field(default=None, max_length=1024)
    client_url: str | None = Field(default=None, max_length=2048)
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
    connection = await session.connection()
    rows = await connection.execute(_FIND_ROUTES, {"routing_keys": list(set(routing_keys))})
    return {row.routing_key: Route(row.id, row.service_id) for row in rows}


async def apply_events(*, session: AsyncSession, items: Sequence[Event]) -> list[str | None]:
    """Applies events in order in the caller's transaction (one group commit); each result
    is the event's dedup key, or None for an unknown routing key.

    Consecutive triggers are applied together: counting alerts on open incidents commutes,
    so one UPDATE per service counts them all, and only keys without an open incident cost
    more (they open one). An acknowledge or resolve ends such a run, keeping the order."""
    routes = await find_routes(session=session, routing_keys=[item.routing_key for item in items])
    alerts: list[dict[str, Any]] = []
    results: list[str | None] = []
    triggers: list[_Trigger] = []
    for event in items:
        route = routes.get(event.routing_key)
        if route is None:
            results.append(None)
        elif event.event_action == "trigger":
            triggers.append(_Trigger(route, event, event.dedup_key or uuid.uuid4().hex))
            results.append(triggers[-1].dedup_key)
        else:
            alerts += await _apply_triggers(session, triggers)
            triggers = []
            results.append(await _change_status(session, route, event))
    alerts += await _apply_triggers(session, triggers)
    if alerts:  # one statement for the batch's alerts; their incidents exist by now
        await (await session.connection()).execute(_INSERT_ALERT, alerts)
    return results


@dataclass(frozen=True)
class _Trigger:
    route: Route
    event: Event
    dedup_key: str

    @property
    def incident(self) -> tuple[str, str]:
        return self.route.service_id, self.dedup_key


async def _change_status(session: AsyncSession, route: Route, event: Event) -> str:
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


async def _apply_triggers(session: AsyncSession, triggers: list[_Trigger]) -> list[dict[str, Any]]:
    """Counts each trigger's alert on its open incident (the first trigger of a key with none
    opens it, counting the run's alerts for that key) and returns the alert rows."""
    added = Counter(trigger.incident for trigger in triggers)
    incident_ids = await _count_alerts(session, added)
    for trigger in triggers:
        if trigger.incident not in incident_ids:
            incident_ids[trigger.incident] = await _open(session, trigger,
                                                         added[trigger.incident])
    now = utcnow()
    return [{
        "id": new_id(), "incident_id": incident_ids[trigger.incident],
        "dedup_key": trigger.dedup_key, "summary": payload.summary,
        "severity": payload.severity,
        "body": trigger.event.model_dump(mode="json", by_alias=True, exclude={"routing_key"}),
        "created_at": now,
    } for trigger in triggers if (payload := trigger.event.payload) is not None]


async def _open(session: AsyncSession, trigger: _Trigger, alert_count: int) -> str:
    payload, route = trigger.event.payload, trigger.route
    assert payload is not None
    service = await catalog.get_service(session=session, service_id=route.service_id)
    incident = await lifecycle.open_incident(
        session=session, agent=Agent.service(service), data=lifecycle.NewIncident(
            service=service, title=payload.summary, urgency=URGENCY[payload.severity],
            incident_key=trigger.dedup_key, details=_details(payload),
            trigger_channel=_channel(trigger.event, route),
            assignees=[item.user for item in service.on_call], alert_count=alert_count,
        ))
    if incident is not None:
        return incident.id
    # A concurrent trigger (another process) opened it first (WF-2): count on that one.
    found = await _count_alerts(session, Counter({trigger.incident: alert_count}))
    return found[trigger.incident]


async def _count_alerts(
    session: AsyncSession, added: Counter[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Counts `added[(service_id, key)]` alerts on each open incident; returns the ids of
    those that were open. One statement per (service, number added) — usually one."""
    groups: dict[tuple[str, int], list[str]] = defaultdict(list)
    for (service_id, key), count in added.items():
        groups[service_id, count].append(key)
    found: dict[tuple[str, str], str] = {}
    for (service_id, count), keys in groups.items():
        rows = await (await session.connection()).execute(_COUNT_ALERTS, {
            "match_service_id": service_id, "match_incident_keys": keys, "added": count,
            "now": utcnow()})
        found |= {(service_id, row.incident_key): row.id for row in rows}
    return found


def _details(payload: Payload) -> str:
    if isinstance(payload.custom_details, str):
        return payload.custom_details
    if payload.custom_details is None:
        return ""
    return json.dumps(payload.custom_details, indent=2, sort_keys=True)
