"""PagerDuty REST v2 bodies for services, integrations, incidents, notes, log entries and
priorities. Pure functions over loaded rows: they never query.

Incidents are rendered from anything shaped like one (the protocols below): the ORM models,
or the plain views the incident list reads (`incidents.listing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from fireline.core.clock import isoformat
from fireline.core.resources import api_url, html_url, reference, resource, resource_urls
from fireline.incidents.models import (
    Incident,
    LogEntry,
    Note,
    Service,
    ServiceIntegration,
)


class NamedLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...


class UserLike(NamedLike, Protocol):
    @property
    def email(self) -> str: ...


class ServiceLike(NamedLike, Protocol):
    @property
    def team(self) -> NamedLike | None: ...


class AssignmentLike(Protocol):
    @property
    def at(self) -> datetime: ...
    @property
    def user(self) -> UserLike: ...


class PriorityLike(NamedLike, Protocol):
    @property
    def description(self) -> str: ...
    @property
    def color(self) -> str: ...
    @property
    def order(self) -> int: ...


class IncidentLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def incident_number(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def details(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def urgency(self) -> str: ...
    @property
    def incident_key(self) -> str: ...
    @property
    def last_status_change_by(self) -> dict[str, Any]: ...
    @property
    def acknowledgements(self) -> list[dict[str, Any]]: ...
    @property
    def alert_count(self) -> int: ...
    @property
    def first_trigger_log_entry_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def last_status_change_at(self) -> datetime: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def conference_number(self) -> str | None: ...
    @property
    def conference_url(self) -> str | None: ...
    @property
    def service(self) -> ServiceLike: ...
    @property
    def priority(self) -> PriorityLike | None: ...
    @property
    def assignments(self) -> Sequence[AssignmentLike]: ...


def user_ref(base: str, user: NamedLike) -> dict[str, Any]:
    return reference(base, "user", user.id, user.name)


def team_ref(base: str, team: NamedLike) -> dict[str, Any]:
    return reference(base, "team", team.id, team.name)


def service_ref(base: str, service: NamedLike) -> dict[str, Any]:
    return reference(base, "service", service.id, service.name)


def incident_ref(base: str, incident: IncidentLike) -> dict[str, Any]:
    return reference(base, "incident", incident.id, _incident_summary(incident))


def stored_ref(base: str, stored: dict[str, Any]) -> dict[str, Any]:
    """Expands an agent stored as `{"type": "user_reference", "id", "summary"}`."""
    return reference(base, *_stored_parts(stored))


def _stored_parts(stored: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, id, summary) of a stored agent reference."""
    return (str(stored["type"]).removesuffix("_reference"), stored["id"],
            stored.get("summary", ""))


def integration_body(base: str, integration: ServiceIntegration) -> dict[str, Any]:
    self_url = f"{api_url(base, 'service', integration.service_id)}/integrations/{integration.id}"
    return {
        "id": integration.id,
        "type": integration.type,
        "summary": integration.name,
        "self": self_url,
        "html_url": f"{html_url(base, 'service', integration.service_id)}/integrations/"
                    f"{integration.id}",
        "name": integration.name,
        "service": service_ref(base, integration.service),
        "created_at": isoformat(integration.created_at),
        "integration_key": integration.routing_key,
        "vendor": {"id": integration.vendor_app.id, "type": "vendor_reference",
                   "summary": integration.vendor_app.name} if integration.vendor_app else None,
    }


def integration_ref(base: str, integration: ServiceIntegration) -> dict[str, Any]:
    body = integration_body(base, integration)
    return {key: body[key] for key in ("id", "summary", "self", "html_url")} | {
        "type": f"{integration.type}_reference"}


def service_body(
    base: str, service: Service, integrations: list[ServiceIntegration]
) -> dict[str, Any]:
    return resource(
        base, "service", service.id, service.name,
        name=service.name,
        description=service.description,
        status=service.status,
        created_at=isoformat(service.created_at),
        updated_at=isoformat(service.updated_at),
        teams=[team_ref(base, service.team)] if service.team else [],
        escalation_policy=None,
        integrations=[integration_ref(base, item) for item in integrations],
        alert_creation="create_alerts_and_incidents",
        incident_urgency_rule={"type": "constant", "urgency": "high"},
        # Fireline: who new incidents on this service are assigned to.
        on_call_users=[user_ref(base, item.user) for item in service.on_call],
    )


def priority_body(base: str, priority: PriorityLike) -> dict[str, Any]:
    return resource(
        base, "priority", priority.id, priority.name,
        name=priority.name, description=priority.description, color=priority.color,
        order=priority.order,
    )


def _incident_summary(incident: IncidentLike) -> str:
    return f"[#{incident.incident_number}] {incident.title}"


class Refs:
    """The references one response embeds, each built once: a page of incidents names the
    same service, team, assignees and agents again and again. Bodies share these dicts, so
    nothing may edit a rendered reference in place."""

    __slots__ = ("_made", "base")

    def __init__(self, base: str) -> None:
        self.base = base
        self._made: dict[tuple[str, str, str], dict[str, Any]] = {}

    def __call__(self, kind: str, id_: str, summary: str) -> dict[str, Any]:
        key = (kind, id_, summary)
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = reference(self.base, kind, id_, summary)
        return made

    def stored(self, stored: dict[str, Any]) -> dict[str, Any]:
        """`stored_ref`, built once per agent."""
        return self(*_stored_parts(stored))


def incident_body(
    base: str, incident: IncidentLike, *, with_body: bool = False,
    include: frozenset[str] = frozenset(), refs: Refs | None = None,
) -> dict[str, Any]:
    """`refs`: shared by the incidents of one response (see `Refs`)."""
    refs = refs or Refs(base)
    service, priority, resolved_at = incident.service, incident.priority, incident.resolved_at
    alerts, resolved = incident.alert_count, incident.status == "resolved"
    first_trigger = incident.first_trigger_log_entry_id
    api, html = resource_urls(base, "incident", incident.id)
    body: dict[str, Any] = {
        "id": incident.id, "type": "incident", "summary": _incident_summary(incident),
        "self": api, "html_url": html,
        "incident_number": incident.incident_number,
        "title": incident.title,
        "description": incident.title,
        "created_at": isoformat(incident.created_at),
        "updated_at": isoformat(incident.updated_at),
        "status": incident.status,
        "incident_key": incident.incident_key,
        "service": refs("service", service.id, service.name),
        "assignments": [
            {"at": isoformat(item.at), "assignee": refs("user", item.user.id, item.user.name)}
            for item in incident.assignments
        ],
        "assigned_via": "direct_assignment",
        "acknowledgements": [
            {"at": item["at"], "acknowledger": refs.stored(item["acknowledger"])}
            for item in incident.acknowledgements
        ],
        "last_status_change_at": isoformat(incident.last_status_change_at),
        "last_status_change_by": refs.stored(incident.last_status_change_by),
        "first_trigger_log_entry": (
            reference(base, "log_entry", first_trigger, "Triggered")
            | {"type": "trigger_log_entry_reference"} if first_trigger else None
        ),
        "escalation_policy": None,
        "teams": [refs("team", service.team.id, service.team.name)] if service.team else [],
        "priority": priority_body(base, priority) if priority else None,
        "urgency": incident.urgency,
        "resolve_reason": None,
        "resolved_at": isoformat(resolved_at) if resolved_at else None,
        "alert_counts": {"all": alerts, "triggered": 0 if resolved else alerts,
                         "resolved": alerts if resolved else 0},
        "pending_actions": [],
        "is_mergeable": True,
        "incident_type": {"name": "incident_default"},
        "conference_bridge": conference_bridge_body(incident),
    }
    if with_body or "body" in include:
        body["body"] = {"type": "incident_body", "details": incident.details or ""}
    if "assignees" in include or "users" in include:
        for item, assignment in zip(body["assignments"], incident.assignments, strict=True):
            item["assignee"] = {**item["assignee"], "name": assignment.user.name,
                                "email": assignment.user.email, "type": "user"}
    return body


def conference_bridge_body(incident: IncidentLike) -> dict[str, Any] | None:
    """PagerDuty's `ConferenceBridge`, with only the parts that are set; null when neither is."""
    number, url = incident.conference_number, incident.conference_url
    if not (number or url):
        return None
    return ({"conference_number": number} if number else {}) | (
        {"conference_url": url} if url else {})


def note_body(base: str, note: Note) -> dict[str, Any]:
    return {
        "id": note.id,
        "user": user_ref(base, note.user) if note.user else None,
        "channel": {"summary": "The PagerDuty website or APIs"},
        "content": note.content,
        "created_at": isoformat(note.created_at),
    }


def log_entry_body(
    base: str, entry: LogEntry, incident: Incident, *, include: frozenset[str] = frozenset()
) -> dict[str, Any]:
    body = resource(
        base, "log_entry", entry.id, entry.summary,
        created_at=isoformat(entry.created_at),
        agent=stored_ref(base, entry.agent),
        channel=entry.channel,
        service=service_ref(base, incident.service),
        incident=incident_ref(base, incident),
        teams=[team_ref(base, incident.service.team)] if incident.service.team else [],
        contexts=[],
        **entry.details,
    )
    body["type"] = entry.type
    if "assignees" in entry.details:
        body["assignees"] = [stored_ref(base, item) for item in entry.details["assignees"]]
    if "incidents" in include:
        body["incident"] = incident_body(base, incident)
    if "services" in include:
        body["service"] = service_body(base, incident.service, [])
    return body


def log_entry_ref(base: str, entry: LogEntry) -> dict[str, Any]:
    return reference(base, "log_entry", entry.id, entry.summary) | {
        "type": f"{entry.type}_reference"}

