"""Request bodies of the incidents REST API, in PagerDuty's wrapped shapes.

Bodies are closed (`extra="forbid"`): an unknown field is a 400 naming it, not silently
dropped. References are the exception — clients often send a whole object where a
reference is expected, and only `id` matters.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

Urgency = Literal["high", "low"]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Reference(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=20)
    type: str = ""


class ServiceFields(Closed):
    type: Literal["service", "service_reference"] = "service"
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=1024)
    status: Literal["active", "warning", "critical", "maintenance", "disabled"] = "active"
    teams: list[Reference] = Field(default_factory=list, max_length=1)
    escalation_policy: Reference | None = None  # refused below: stored nowhere yet
    on_call_users: list[Reference] = Field(default_factory=list, max_length=100)


    @field_validator("escalation_policy")
    @classmethod
    def _no_escalation_policies_yet(cls, value: Reference | None) -> None:
        # Better a clear refusal than pretending: nothing would page the policy's people.
        if value is not None:
            raise ValueError("Fireline has no escalation policies yet; leave the field out "
                             "and name who is on call in on_call_users")
        return None


class ServiceCreate(Closed):
    service: ServiceFields


class IntegrationFields(Closed):
    # `app_integration`: an OAuth app (named by `vendor`) added to the service, with no key.
    type: Literal["events_api_v2_inbound_integration", "app_integration"]
    name: str = Field(default="Events API V2", min_length=1, max_length=255)
    summary: str | None = Field(default=None, max_length=1024)
    vendor: Reference | None = None


class IntegrationCreate(Closed):
    integration: IntegrationFields


class IncidentBody(Closed):
    type: Literal["incident_body"] = "incident_body"
    details: str = Field(default="", max_length=65_536)


class Assignment(Closed):
    assignee: Reference


# A dial-in as PagerDuty writes one: "+1 415-555-1212,,,,1234#" (a comma waits a second, `#`
# ends the access code); letters only for pauses and extensions.
_DIAL_IN = re.compile(r"[0-9+*#,;()./ pPwWxX-]*")


class ConferenceBridge(Closed):
    """PagerDuty's `ConferenceBridge`; an empty value is no value, and neither set clears it."""

    conference_number: str | None = Field(default=None, max_length=64)
    conference_url: str | None = Field(default=None, max_length=2048)

    @field_validator("conference_number")
    @classmethod
    def _dial_in(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not _DIAL_IN.fullmatch(value):
            raise ValueError("a phone number may hold digits, spaces, + - ( ) . , ; # * "
                             "and p, w or x for pauses and extensions")
        return value or None

    @field_validator("conference_url")
    @classmethod
    def _web_link(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None
        # Shown as a link on the incident page: a `javascript:` or `data:` URL would run there.
        parts = urlsplit(value)
        if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or any(
                char.isspace() or not char.isprintable() for char in value):
            raise ValueError("conference_url must be an http:// or https:// URL")
        return value

    @property
    def is_set(self) -> bool:
        return bool(self.conference_number or self.conference_url)


class IncidentFields(Closed):
    type: Literal["incident"]
    title: str = Field(min_length=1, max_length=1024)
    service: Reference
    urgency: Urgency | None = None
    priority: Reference | None = None
    body: IncidentBody | None = None
    incident_key: str | None = Field(default=None, min_length=1, max_length=255)
    assignments: list[Assignment] | None = Field(default=None, max_length=100)
    escalation_policy: Reference | None = None  # accepted for compatibility, not used
    conference_bridge: ConferenceBridge | None = None


class IncidentCreate(Closed):
    incident: IncidentFields


class IncidentChanges(Closed):
    type: Literal["incident", "incident_reference"] = "incident"
    status: Literal["acknowledged", "resolved"] | None = None
    title: str | None = Field(default=None, min_length=1, max_length=1024)
    urgency: Urgency | None = None
    priority: Reference | None = None
    assignments: list[Assignment] | None = Field(default=None, min_length=1, max_length=100)
    resolution: str | None = Field(default=None, max_length=65_536)
    escalation_level: int | None = None  # no escalation policies yet: accepted, ignored
    escalation_policy: Reference | None = None
    conference_bridge: ConferenceBridge | None = None  # null clears it


class IncidentUpdate(Closed):
    incident: IncidentChanges


class BulkIncidentChanges(IncidentChanges):
    id: str = Field(min_length=1, max_length=20)


class BulkIncidentUpdate(Closed):
    incidents: list[BulkIncidentChanges] = Field(min_length=1, max_length=500)


class NoteFields(Closed):
    content: str = Field(min_length=1, max_length=65_536)


class NoteCreate(Closed):
    note: NoteFields
