"""Responder requests in PagerDuty's REST shape (`POST /incidents/{id}/responder_requests`).

Only user targets exist here: Fireline has no escalation policies, so an
`escalation_policy_reference` target is refused with a 400 naming it. Requested users join
at once (their `incident_responders` state is `joined`); the change itself is
`lifecycle.add_responders`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fireline.accounts.models import User
from fireline.core.clock import isoformat, utcnow
from fireline.incidents.models import Incident
from fireline.incidents.schemas import Closed
from fireline.incidents.shapes import incident_ref, user_ref


class Target(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients send whole objects as references

    id: str = Field(min_length=1, max_length=20)
    type: Literal["user_reference", "user", "escalation_policy_reference"]


class TargetWrapper(Closed):
    responder_request_target: Target


class ResponderRequestCreate(Closed):
    requester_id: str = Field(min_length=1, max_length=20)
    message: str = Field(default="", max_length=65_536)
    responder_request_targets: list[TargetWrapper] = Field(min_length=1, max_length=300)

    def user_ids(self) -> list[str]:
        return [item.responder_request_target.id for item in self.responder_request_targets
                if item.responder_request_target.type != "escalation_policy_reference"]

    def escalation_policy_ids(self) -> list[str]:
        return [item.responder_request_target.id for item in self.responder_request_targets
                if item.responder_request_target.type == "escalation_policy_reference"]


def responder_request_body(
    base: str, incident: Incident, requester: User, users: list[User], message: str
) -> dict[str, Any]:
    at = isoformat(utcnow())
    incident_reference = incident_ref(base, incident)
    requester_reference = user_ref(base, requester)
    return {
        "incident": incident_reference,
        "requester": requester_reference,
        "requested_at": at,
        "message": message,
        "responder_request_targets": [
            {"responder_request_target": {
                "type": "user", "id": user.id, "summary": user.name,
                "incident_responders": [{
                    "state": "joined", "user": user_ref(base, user),
                    "incident": incident_reference, "updated_at": at, "message": message,
                    "requester": requester_reference, "requested_at": at,
                }],
            }}
            for user in users
        ],
    }
