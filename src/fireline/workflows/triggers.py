"""A workflow's trigger (one per workflow, kept in its versioned definition), as PagerDuty's
Incident Workflows have them:

    {type: manual, services: [...]}       started by hand (the API, the UI), on incidents of
                                          these services (none listed: every service)
    {type: conditional, on: [event kinds], condition, services}
                                          on each of those incident events
    {type: conditional, when: created, condition, services}
                                          "when an incident is created": `on:
                                          [incident.triggered]` by another name
    {type: conditional, when: conditions_met, condition, services}
                                          "when conditions are met": each time the condition
                                          turns from false to true on an incident — it is
                                          evaluated on every change of the incident (every
                                          outbox event), and fires once per transition
                                          (`workflows.transitions`)
    {type: incident_type, incident_types: [names], condition, services}
                                          when an incident of one of those types is created

`condition` is optional except for `conditions_met`; `services` narrows a trigger to the
incidents of those services. `on` and `when` are mutually exclusive. Who may start a workflow
by hand is its `run_permission`, not part of the trigger.

A condition is written in PagerDuty's Condition Language (`incident.priority matches 'P1'`,
see `workflows.pcl`) or as an expression over the incident (`incident.urgency == 'high'`, a
sandboxed Jinja expression); which one is decided by `pcl.looks_like_pcl`: a condition that
uses `matches` or `exists` is PCL. Either is refused at save when it does not parse (PCL says
where). Both see the incident as the outbox event recorded it (`incidents.outbox.snapshot`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from fireline.workflows import pcl, templates

EVENT_KINDS = (
    "incident.triggered", "incident.acknowledged", "incident.resolved",
    "incident.priority_changed", "incident.urgency_changed", "incident.title_changed",
    "incident.reassigned", "incident.responders_added", "incident.note_added",
)
EventKind = Literal[
    "incident.triggered", "incident.acknowledged", "incident.resolved",
    "incident.priority_changed", "incident.urgency_changed", "incident.title_changed",
    "incident.reassigned", "incident.responders_added", "incident.note_added",
]
CREATED = "incident.triggered"
DEFAULT_INCIDENT_TYPE = "incident_default"  # PagerDuty's name for the base incident type
TYPE_NAMES = {"manual": "Manual Trigger", "conditional": "Conditional Trigger",
              "incident_type": "Incident Type Trigger"}


def check_condition(source: str) -> None:
    """Raises ValueError("condition does not parse: ...") when `source` does not parse."""
    try:
        if pcl.looks_like_pcl(source):
            pcl.parse(source)
        else:
            templates.compile_condition(source)
    except (pcl.PclError, templates.TemplateFailure) as exc:
        raise ValueError(f"condition does not parse: {exc}") from None


def condition_holds(source: str | None, snapshot: Mapping[str, Any]) -> bool:
    """An absent condition always holds; one that cannot be evaluated does not."""
    if not source:
        return True
    if pcl.looks_like_pcl(source):
        try:
            return pcl.parse(source).holds(snapshot)
        except pcl.PclError:  # saved before a rule changed: it holds for nothing
            return False
    return templates.condition_holds(source, snapshot)


class _Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_serializer(mode="wrap")
    def _without_unset_options(self, handler: SerializerFunctionWrapHandler,
                               info: SerializationInfo) -> dict[str, Any]:
        # Written as before these options existed: a definition that does not use them
        # reads back (and is stored) exactly as it was written.
        data: dict[str, Any] = handler(self)
        for name in self._omitted_when_empty:
            if not data.get(name):
                data.pop(name, None)
        return data

    _omitted_when_empty: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _condition_parses(self) -> _Trigger:
        condition = getattr(self, "condition", None)
        if condition:
            check_condition(condition)
        return self


class ManualTrigger(_Trigger):
    type: Literal["manual"]
    # Incidents of these services may start it by hand; none listed: every service.
    services: list[str] = Field(default_factory=list, max_length=100)

    _omitted_when_empty: ClassVar[tuple[str, ...]] = ("services",)


class ConditionalTrigger(_Trigger):
    type: Literal["conditional"]
    on: list[EventKind] | None = Field(default=None, min_length=1)
    when: Literal["created", "conditions_met"] | None = None
    condition: str | None = Field(default=None, max_length=2000)
    services: list[str] = Field(default_factory=list, max_length=100)

    _omitted_when_empty: ClassVar[tuple[str, ...]] = ("on", "when")

    @model_validator(mode="after")
    def _on_or_when(self) -> ConditionalTrigger:
        if self.on is not None and self.when is not None:
            raise ValueError("a conditional trigger has `on` (the events it starts on) or "
                             "`when` (created or conditions_met), not both")
        if self.on is None and self.when is None:
            raise ValueError("a conditional trigger needs `on` (the events it starts on) or "
                             "`when` (created or conditions_met)")
        if self.when == "conditions_met" and not (self.condition or "").strip():
            raise ValueError("`when: conditions_met` needs a condition: it starts the "
                             "workflow each time the condition becomes true")
        return self


class IncidentTypeTrigger(_Trigger):
    type: Literal["incident_type"]
    incident_types: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=100)
    condition: str | None = Field(default=None, max_length=2000)
    services: list[str] = Field(default_factory=list, max_length=100)


Trigger = Annotated[ManualTrigger | ConditionalTrigger | IncidentTypeTrigger,
                    Field(discriminator="type")]


def default() -> ManualTrigger:
    return ManualTrigger(type="manual")


# --- matching, over the trigger as stored (`Workflow.trigger`) ---------------------------------

def is_default(trigger: Mapping[str, Any]) -> bool:
    """The trigger a workflow has when none was given: manual, on every service."""
    return trigger.get("type") == "manual" and not trigger.get("services")


def is_automatic(trigger: Mapping[str, Any]) -> bool:
    """Whether incidents start it by themselves (the relay's concern)."""
    return trigger.get("type") in ("conditional", "incident_type")


def on_transitions(trigger: Mapping[str, Any]) -> bool:
    """A "when conditions are met" trigger: it fires on a false → true transition."""
    return trigger.get("type") == "conditional" and trigger.get("when") == "conditions_met"


def covers(trigger: Mapping[str, Any], service_id: str | None) -> bool:
    services = trigger.get("services") or []
    return not services or service_id in services


def holds(trigger: Mapping[str, Any], snapshot: Mapping[str, Any]) -> bool:
    """The trigger's services and condition over an incident snapshot."""
    return covers(trigger, snapshot.get("service_id")) and condition_holds(
        trigger.get("condition"), snapshot)


def starts_on(trigger: Mapping[str, Any], kind: str, snapshot: Mapping[str, Any]) -> bool:
    """Whether one event (of `kind`, with its snapshot) starts a workflow that has this
    trigger — for every automatic trigger except `conditions_met`, which depends on the
    events before it as well."""
    if trigger.get("type") == "conditional":
        when = trigger.get("when")
        if when == "conditions_met":
            return False
        kinds = [CREATED] if when == "created" else trigger.get("on") or []
        if kind not in kinds:
            return False
    elif trigger.get("type") == "incident_type":
        incident_type = snapshot.get("incident_type") or DEFAULT_INCIDENT_TYPE
        if kind != CREATED or incident_type not in trigger.get("incident_types", []):
            return False
    else:
        return False
    return holds(trigger, snapshot)


def fingerprint(trigger: Mapping[str, Any]) -> str:
    """Names one trigger: a transition state kept under another fingerprint is stale."""
    canonical = json.dumps(dict(trigger), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def describe(trigger: Mapping[str, Any]) -> str:
    """A short label for lists and pages."""
    kind = trigger.get("type")
    if kind == "conditional":
        when = trigger.get("when")
        if when == "created":
            return "When an incident is created"
        if when == "conditions_met":
            return "When conditions are met"
        return "When " + ", ".join(trigger.get("on") or [])
    if kind == "incident_type":
        return "When an incident of type " + ", ".join(trigger.get("incident_types", [])) + \
            " is created"
    return "Manual"


# --- PagerDuty's `IncidentWorkflowTrigger` ------------------------------------------------------
#
# Fireline keeps one trigger per workflow, in its definition; PagerDuty's triggers resource
# reads and writes that one, under the workflow's id. Its fields map onto ours:
#   trigger_type conditional + condition        → {type: conditional, when: conditions_met}
#   trigger_type conditional, no condition      → {type: conditional, when: created}
#   trigger_type incident_type + incident_types → {type: incident_type}
#   trigger_type manual                         → {type: manual}; permissions.restricted with
#                                                 team_id → the run permission of that team
#   services / is_subscribed_to_all_services    → `services` (none listed: every service)
# Our `on: [events]` and "when created, with a condition" have no PagerDuty form: they read
# back as `conditional` with `event_types` / `fireline_when` beside PagerDuty's fields.


class _PdOpen(BaseModel):
    # PagerDuty clients send read-only fields back (`id`, `self`, `trigger_url`, ...).
    model_config = ConfigDict(extra="ignore")


class PdReference(_PdOpen):
    id: str = Field(min_length=1, max_length=64)


class PdPermissions(_PdOpen):
    restricted: bool = False
    team_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _team_when_restricted(self) -> PdPermissions:
        # PagerDuty: team_id is "required and allowed if and only if" restricted is true.
        if self.restricted != (self.team_id is not None):
            raise ValueError("permissions.team_id is required when restricted is true, and "
                             "allowed only then")
        return self


class PdTrigger(_PdOpen):
    trigger_type: Literal["conditional", "manual", "incident_type"]
    workflow: PdReference | None = None
    condition: str | None = Field(default=None, max_length=2000)
    incident_types: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=100)
    services: list[PdReference] | None = Field(default=None, max_length=100)
    is_subscribed_to_all_services: bool | None = None
    permissions: PdPermissions | None = None

    @model_validator(mode="after")
    def _fits_its_type(self) -> PdTrigger:
        if self.condition is not None and self.trigger_type != "conditional":
            raise ValueError("condition is allowed only for conditional triggers")
        if self.condition is not None and not self.condition.strip():
            raise ValueError("condition is empty: leave it out to start on creation")
        if self.incident_types is not None and self.trigger_type != "incident_type":
            raise ValueError("incident_types is allowed only for incident_type triggers")
        if self.trigger_type == "incident_type" and not self.incident_types:
            raise ValueError("an incident_type trigger needs incident_types")
        if self.permissions is not None and self.permissions.restricted \
                and self.trigger_type != "manual":
            raise ValueError("permissions apply to manual triggers only")
        if self.is_subscribed_to_all_services and self.services:
            raise ValueError("services are listed, and is_subscribed_to_all_services is true: "
                             "choose one")
        if self.is_subscribed_to_all_services is False and not self.services:
            raise ValueError("is_subscribed_to_all_services is false: list the services")
        return self

    def ours(self) -> dict[str, Any]:
        """Our trigger (as the definition's `trigger`)."""
        services = [item.id for item in self.services or []]
        if self.trigger_type == "manual":
            return {"type": "manual", "services": services}
        if self.trigger_type == "incident_type":
            return {"type": "incident_type", "incident_types": list(self.incident_types or []),
                    "services": services}
        if self.condition is not None:
            return {"type": "conditional", "when": "conditions_met",
                    "condition": self.condition, "services": services}
        return {"type": "conditional", "when": "created", "services": services}

    def run_teams(self) -> list[str] | None:
        """The teams that may start it by hand, when it says (manual triggers only)."""
        if self.trigger_type != "manual" or self.permissions is None:
            return None
        return [self.permissions.team_id] if self.permissions.team_id else []


def pagerduty_fields(trigger: Mapping[str, Any]) -> dict[str, Any]:
    """PagerDuty's fields for our trigger (ids only; the caller adds references)."""
    kind = trigger.get("type", "manual")
    fields: dict[str, Any] = {"trigger_type": kind, "trigger_type_name": TYPE_NAMES[kind]}
    condition = trigger.get("condition")
    if kind == "incident_type":
        fields["incident_types"] = list(trigger.get("incident_types", []))
    elif kind == "conditional" and trigger.get("when") == "created":
        if condition:  # PagerDuty's condition would mean "when met": ours is on creation
            fields |= {"fireline_when": "created", "fireline_condition": condition}
    elif kind == "conditional":
        if condition:
            fields["condition"] = condition
        if trigger.get("on"):
            fields["event_types"] = list(trigger["on"])
    return fields
