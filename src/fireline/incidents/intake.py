"""Events API v2 intake: trigger, acknowledge and resolve events routed by integration key.

- trigger: the event's `dedup_key` (generated when absent) is the incident's
  `incident_key`. With an open incident under that key on the service, the event becomes an
  alert on it; otherwise a new incident opens. Concurrent identical triggers race on the
  partial unique index (WF-2); losers append to the winner, so exactly one incident exists.
- acknowledge / resolve: act on the open incident with that key; with none, the event is
  accepted and changes nothing (PagerDuty does the same).
- severity → urgency: critical and error are high, warning and info low.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.core.clock import utcnow
from fireline.incidents import lifecycle
from fireline.incidents.models import Alert, Incident, ServiceIntegration
from fireline.incidents.timeline import Agent

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


async def enqueue(
    *, session: AsyncSession, integration: ServiceIntegration, event: Event
) -> str:
    """Applies one event in the caller's transaction and returns its dedup key."""
    agent = Agent.service(integration.service)
    if event.event_action == "trigger":
        assert event.payload is not None
        dedup_key = event.dedup_key or uuid.uuid4().hex
        await _trigger(session, integration, agent, event, event.payload, dedup_key)
        return dedup_key
    assert event.dedup_key is not None
    incident = await lifecycle.find_open(
        session=session, service_id=integration.service_id, incident_key=event.dedup_key)
    if incident is not None:
        status: Literal["acknowledged", "resolved"] = (
            "acknowledged" if event.event_action == "acknowledge" else "resolved")
        lifecycle.change_status(session=session, incident=incident, agent=agent,
                                status=status, channel=_channel(event, integration))
        await session.flush()
    return event.dedup_key


def _channel(event: Event, integration: ServiceIntegration) -> dict[str, Any]:
    channel: dict[str, Any] = {"integration_id": integration.id}
    if event.payload is not None:
        channel |= {"summary": event.payload.summary,
                    "details": event.payload.custom_details,
                    "severity": event.payload.severity}
    if event.client:
        channel |= {"client": event.client, "client_url": event.client_url}
    return channel


async def _trigger(
    session: AsyncSession, integration: ServiceIntegration, agent: Agent, event: Event,
    payload: Payload, dedup_key: str,
) -> None:
    service_id = integration.service_id
    incident = await lifecycle.find_open(
        session=session, service_id=service_id, incident_key=dedup_key)
    if incident is None:
        incident = await lifecycle.open_incident(session=session, agent=agent,
                                                 data=lifecycle.NewIncident(
            service=integration.service, title=payload.summary,
            urgency=URGENCY[payload.severity], incident_key=dedup_key,
            details=_details(payload), trigger_channel=_channel(event, integration),
            assignees=[item.user for item in integration.service.on_call], alert_count=1,
        ))
        if incident is None:  # a concurrent trigger opened it first: append to that one
            incident = await lifecycle.find_open(
                session=session, service_id=service_id, incident_key=dedup_key)
            assert incident is not None
            _count_alert(incident)
    else:
        _count_alert(incident)
    session.add(Alert(
        incident_id=incident.id, dedup_key=dedup_key, summary=payload.summary,
        severity=payload.severity,
        body=event.model_dump(mode="json", by_alias=True, exclude={"routing_key"}),
        created_at=utcnow(),
    ))
    await session.flush()


def _count_alert(incident: Incident) -> None:
    # Computed by the database: concurrent appends must not overwrite each other's count.
    incident.alert_count = Incident.alert_count + 1
    incident.updated_at = utcnow()


def _details(payload: Payload) -> str:
    if isinstance(payload.custom_details, str):
        return payload.custom_details
    if payload.custom_details is None:
        return ""
    return json.dumps(payload.custom_details, indent=2, sort_keys=True)
