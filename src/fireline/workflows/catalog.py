"""The action catalog: every action a step may name, under an id of PagerDuty's form
`<domain>:<package>:<function>:<version>`, as `/incident_workflows/actions` lists them.

The catalog is derived, never listed by hand: the built-ins come from `builtins.BUILTINS`,
the tool actions from the integrations registry, and each one's inputs and outputs from its
pydantic models. Only the mapping to PagerDuty's own ids is a table (`_PAGERDUTY`): where
PagerDuty has the same action its id is used exactly (ids seen in PagerDuty's REST schema,
its Terraform provider's tests and public workflow definitions), else the id is
`fireline.dev:<slug>:<function-with-dashes>:1`. A known PagerDuty id of another version of
the same function (`send-status-update:5`) resolves to the same action: PagerDuty bumps
versions, definitions written against an older or newer one still mean the same step.

Inputs as PagerDuty types them: text, integer, decimal, boolean, date, dateTime,
singleChoice (a Literal or an Enum; the choices are in the input's `metadata`),
multipleChoice (a list of those), json (lists, dicts, anything else) — never `password`:
secrets live in connections. A tool action's first input is its `connection` (the
`connection_type_id` is the tool's slug, as `/workflows/integrations` names it; a connection
id, or empty for the tool's default). An input's name is PagerDuty's where the table gives
it, else the field's title, else its key; its key (what the definition's `with` uses) is in
`metadata`. Our own facts PagerDuty has no field for are extra fields: `idempotent` (also the
tag `idempotent`) and, for logic steps, the names of their inline step lists.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from types import NoneType, UnionType
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, NaiveDatetime
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from fireline.integrations import registry
from fireline.integrations.base import Integration
from fireline.workflows import definitions
from fireline.workflows.builtins import BUILTINS

FIRELINE_DOMAIN = "fireline.dev"
CONNECTION_INPUT = "Connection"
DEFAULT_CONNECTION = "default"


@dataclass(frozen=True)
class _Known:
    """One of PagerDuty's actions that we have too: its id, and its names for our inputs
    (our key → PagerDuty's name) and inline step lists (PagerDuty's name → our branch)."""

    id: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    inline: Mapping[str, str] = field(default_factory=dict)


_PAGERDUTY: dict[str, _Known] = {
    # Standard incident actions ("PagerDuty Incident Management" and "Logic" in PagerDuty's
    # Incident Workflow Actions overview).
    "fireline.send_status_update": _Known(
        "pagerduty.com:incident-workflows:send-status-update:1", {"message": "Message"}),
    "fireline.add_note": _Known("pagerduty.com:incident-workflows:add-notes-to-incident:1"),
    "fireline.set_priority": _Known(
        "pagerduty.com:incident-workflows:update-incident-priority:1", {"priority": "Priority"}),
    "fireline.add_responders": _Known(
        "pagerduty.com:incident-workflows:add-responders:2",
        {"users": "Responders", "message": "Message"}),
    "fireline.add_stakeholders": _Known("pagerduty.com:incident-workflows:add-stakeholders:2"),
    "fireline.add_conference_bridge": _Known(
        "pagerduty.com:incident-workflows:add-conference-bridge:5",
        {"conference_number": "Conference Number", "conference_url": "Conference URL"}),
    "fireline.delay": _Known("pagerduty.com:incident-workflows:delay:1"),
    "fireline.loop_until": _Known(
        "pagerduty.com:logic:incident-workflows-loop-until:3",
        {"expression": "Condition", "interval_seconds": "Delay between loops",
         "max_iterations": "Maximum loops"},
        {"Actions": "steps"}),
    # Tool actions PagerDuty publishes ids for.
    "aws.invoke_lambda": _Known("pagerduty.com:aws:invoke-aws-lambda:2"),
    "servicenow.create_incident": _Known("pagerduty.com:servicenow:create-incident:3"),
    "slack.create_incident_channel": _Known(
        "pagerduty.com:slack:create-a-channel:4", {"name": "Channel Name"}),
    "slack.archive_channel": _Known("pagerduty.com:slack:archive-channel:2"),
    # PagerDuty's "Channel" here chooses between the incident's channel and a named one:
    # ours is always the named one ("Select the Channel").
    "slack.post_message": _Known("pagerduty.com:slack:send-markdown-message:3",
                                 {"channel": "Select the Channel", "text": "Message"}),
    "web_api.send_webhook_post": _Known(
        "pagerduty.com:http-api:send-webhook-post:1", {"url": "URL", "headers": "Headers"}),
}

# A logic step's inline step lists by default name (ours): condition's branches, a loop's body.
_BRANCHES = {definitions.CONDITION: ("then", "else"), definitions.LOOP_UNTIL: ("steps",)}


@dataclass(frozen=True)
class Input:
    key: str  # as the definition's `with` names it
    name: str
    type: str
    description: str
    required: bool
    default: str | None  # serialised, as PagerDuty's `default_value`
    choices: tuple[Any, ...] = ()
    # The field also takes text: a value that does not convert stays a string.
    takes_text: bool = False
    connection_type_id: str = ""


@dataclass(frozen=True)
class Output:
    key: str
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class CatalogAction:
    id: str
    key: str  # our action key: `fireline.add_note`, `elasticsearch.search_logs`
    name: str
    description: str
    integration: Integration | None
    idempotent: bool
    model: type[BaseModel]  # what the step's `with` is validated against
    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    inline: Mapping[str, str]  # inline step list name → our branch (then, else, steps)

    @property
    def parts(self) -> tuple[str, str, str, int]:
        domain, package, function, version = self.id.split(":")
        return domain, package, function, int(version)

    def input_named(self, name: str) -> Input | None:
        """By name or key, exactly, else ignoring case."""
        for exact in (True, False):
            for item in self.inputs:
                for candidate in (item.name, item.key):
                    if candidate == name if exact else candidate.casefold() == name.casefold():
                        return item
        return None

    def branch_named(self, name: str) -> str | None:
        for inline_name, branch in self.inline.items():
            if name.casefold() in (inline_name.casefold(), branch.casefold()):
                return branch
        return None

    def inline_name(self, branch: str) -> str:
        return next((name for name, ours in self.inline.items() if ours == branch), branch)

    @property
    def keywords(self) -> list[str]:
        words = [self.integration.slug, *self.integration.title.lower().split()] \
            if self.integration else ["fireline", "incident"]
        words += self.key.partition(".")[2].split("_")
        if self.key in definitions.LOGIC_BLOCKS or self.key == "fireline.delay":
            words.append("logic")
        return list(dict.fromkeys(words))

    @property
    def tags(self) -> list[str]:
        return ["idempotent"] if self.idempotent else []

    def body(self, base_url: str) -> dict[str, Any]:
        """The action in PagerDuty's `IncidentWorkflowAction` shape (plus `idempotent`)."""
        domain, package, function, version = self.parts
        metadata: dict[str, Any] = {"key": self.key}
        if self.inline:
            metadata["inline_steps_inputs"] = list(self.inline)
        return {
            "id": self.id, "type": "action", "summary": self.name,
            "self": f"{base_url}/api/incident_workflows/actions/{self.id}", "html_url": None,
            "domain_name": domain, "package_name": package, "function_name": function,
            "version": version, "name": self.name, "description": self.description,
            "action_type": "action",
            "action_tier": "premium-action" if self.integration else "standard-action",
            "tags": self.tags, "search_keywords": self.keywords,
            "metadata": json.dumps(metadata),
            "inputs": [_input_body(item) for item in self.inputs],
            "outputs": [{"name": item.name, "description": item.description, "type": item.type}
                        for item in self.outputs],
            "idempotent": self.idempotent,
        }


def _input_body(item: Input) -> dict[str, Any]:
    metadata: dict[str, Any] = {"key": item.key}
    if item.choices:
        metadata["choices"] = [serialise(choice) for choice in item.choices]
    body: dict[str, Any] = {
        "name": item.name, "description": item.description, "type": item.type,
        "is_required": item.required, "is_hidden": False, "advanced": False,
        "metadata": json.dumps(metadata), "connection_type_id": item.connection_type_id,
    }
    if item.default is not None:
        body["default_value"] = item.default
    return body


def serialise(value: Any) -> str:
    """A value as PagerDuty's inputs carry it: a string (JSON for anything but text)."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False)


# --- inputs and outputs from the pydantic models ---------------------------------------------

def _members(annotation: Any) -> list[Any]:
    """The types a field takes: Annotated unwrapped, unions flattened, None left out."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [] if annotation is NoneType else [annotation]


def _choices(annotation: Any) -> tuple[Any, ...]:
    members = _members(annotation)
    if len(members) != 1:
        return ()
    only = members[0]
    if typing.get_origin(only) is Literal:
        return typing.get_args(only)
    if isinstance(only, type) and issubclass(only, Enum):
        return tuple(item.value for item in only)
    return ()


def _typed(annotation: Any) -> tuple[str, tuple[Any, ...], bool]:
    """(PagerDuty's input type, the choices, whether text is taken too)."""
    members = _members(annotation)
    takes_text = any(m is str or m is Any for m in members)
    primary = next((m for m in members if m is not str), str) if members else Any
    origin = typing.get_origin(primary)
    kind = "json"
    choices: tuple[Any, ...] = ()
    if primary is str:
        kind = "text"
    elif primary is bool:
        kind = "boolean"
    elif primary is int:
        kind = "integer"
    elif primary is float:
        kind = "decimal"
    elif primary in (datetime, AwareDatetime, NaiveDatetime):
        kind = "dateTime"
    elif primary is date:
        kind = "date"
    elif _choices(primary):
        kind, choices = "singleChoice", _choices(primary)
    elif origin in (list, tuple, set, frozenset) and typing.get_args(primary) \
            and _choices(typing.get_args(primary)[0]):
        kind, choices = "multipleChoice", _choices(typing.get_args(primary)[0])
    return kind, choices, takes_text


def _default(info: FieldInfo) -> str | None:
    if info.default is PydanticUndefined and info.default_factory is None:
        return None
    value = info.get_default(call_default_factory=True, validated_data={})
    return None if value is None else serialise(value)


def _inputs(model: type[BaseModel], names: Mapping[str, str]) -> list[Input]:
    items: list[Input] = []
    taken: set[str] = set()
    for attribute, info in model.model_fields.items():
        key = info.alias or attribute
        kind, choices, takes_text = _typed(info.annotation)
        name = names.get(key) or info.title or key
        if name.casefold() in taken:  # titles need not be unique; names must be
            name = key
        taken.add(name.casefold())
        items.append(Input(key=key, name=name, type=kind, description=info.description or "",
                           required=info.is_required(), default=_default(info),
                           choices=choices, takes_text=takes_text))
    return items


def _outputs(model: type[BaseModel]) -> tuple[Output, ...]:
    return tuple(Output(key=info.alias or attribute, name=info.title or info.alias or attribute,
                        type=_typed(info.annotation)[0], description=info.description or "")
                 for attribute, info in model.model_fields.items())


def _pagerduty_id(key: str) -> str:
    known = _PAGERDUTY.get(key)
    if known is not None:
        return known.id
    slug, _, name = key.partition(".")
    return f"{FIRELINE_DOMAIN}:{slug}:{name.replace('_', '-')}:1"


def _entry(key: str) -> CatalogAction | None:
    slug, _, name = key.partition(".")
    known = _PAGERDUTY.get(key) or _Known(_pagerduty_id(key))
    if slug == definitions.BUILTIN_PREFIX:
        builtin = BUILTINS.get(name)
        if builtin is None:
            return None
        inline = dict(known.inline) or {b: b for b in _BRANCHES.get(key, ())}
        return CatalogAction(
            id=known.id, key=key, name=builtin.title, description=builtin.title,
            integration=None, idempotent=builtin.idempotent, model=builtin.input,
            inputs=tuple(_inputs(builtin.input, known.inputs)),
            outputs=_outputs(builtin.output), inline=inline)
    integration = registry.get(slug)
    action = integration.action(name) if integration else None
    if integration is None or action is None:
        return None
    connection = Input(
        key="connection", name=CONNECTION_INPUT, type="connection",
        description=f"The {integration.title} connection to use (its id); empty: the "
                    f"tool's default connection", required=False, default=DEFAULT_CONNECTION,
        connection_type_id=integration.slug)
    return CatalogAction(
        id=known.id, key=key, name=f"{integration.title}: {action.title}",
        description=f"{action.title} ({integration.title})",
        integration=integration, idempotent=action.idempotent, model=action.input,
        inputs=(connection, *_inputs(action.input, known.inputs)),
        outputs=_outputs(action.output), inline={})


# --- look-ups ---------------------------------------------------------------------------------

def _keys() -> Iterable[str]:
    yield from (f"{definitions.BUILTIN_PREFIX}.{name}" for name in BUILTINS)
    for integration in registry.INTEGRATIONS:
        yield from (f"{integration.slug}.{action.name}" for action in integration.actions)


def all_actions() -> list[CatalogAction]:
    """Every action, ordered by id (the order cursors page through)."""
    entries = (_entry(key) for key in _keys())
    return sorted((entry for entry in entries if entry is not None), key=lambda a: a.id)


def by_key(key: str) -> CatalogAction | None:
    return _entry(key)


def by_id(action_id: str) -> CatalogAction | None:
    """The action with exactly this id."""
    found = next((key for key, known in _PAGERDUTY.items() if known.id == action_id), None)
    if found is not None:
        return _entry(found)
    parts = action_id.split(":")
    if len(parts) != 4 or parts[0] != FIRELINE_DOMAIN or parts[3] != "1":
        return None
    entry = _entry(f"{parts[1]}.{parts[2].replace('-', '_')}")
    return entry if entry is not None and entry.id == action_id else None


def resolve(action_id: str) -> CatalogAction | None:
    """The action an id in a definition means: exactly, or another version of a function
    we map to PagerDuty's."""
    exact = by_id(action_id)
    if exact is not None:
        return exact
    parts = action_id.split(":")
    if len(parts) != 4 or not parts[3].isdigit():
        return None
    for key, known in _PAGERDUTY.items():
        if known.id.split(":")[:3] == parts[:3]:
            return _entry(key)
    return None
