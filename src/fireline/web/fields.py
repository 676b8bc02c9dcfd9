"""Form fields generated from a pydantic model's JSON schema — the same schema the API
publishes (`GET /api/workflows/integrations` for a tool's fields; action inputs later) — so a
page never restates a tool's fields by hand.

Secrets (`writeOnly`) are password inputs (or a textarea for multi-line ones) that are never
filled: a stored secret shows the placeholder and is kept unless retyped (SEC-2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from fireline.integrations.base import SECRET_PLACEHOLDER

# An error like "configuration.url: must be https" belongs to field `url` of `configuration`.
_LOCATED = re.compile(
    r"^(?P<group>[a-z_]+)(?:\.(?P<name>[A-Za-z0-9_]+))?(?:\.[^:]*)?: (?P<msg>.*)$", re.S)


@dataclass
class Field:
    group: str  # "configuration" or "secrets": the form input is named `group.name`
    name: str
    label: str
    help: str
    kind: str  # text | number | select | textarea | password
    required: bool
    secret: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""
    stored: bool = False  # a secret that is already set
    error: str | None = None
    hint_by: tuple[str, str] | None = None  # (source field input name, hints as JSON)

    @property
    def input_name(self) -> str:
        return f"{self.group}.{self.name}"

    @property
    def input_id(self) -> str:
        return f"field-{self.group}-{self.name}"

    @property
    def described_by(self) -> str:
        """`aria-describedby`: the help text and the error, when there are."""
        return " ".join(f"{self.input_id}-{part}" for part, there in
                        (("help", self.help), ("error", self.error)) if there)


def _plain(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """`X | None` is `anyOf: [X, null]` in JSON schema: the form field is X's."""
    for option in schema.get("anyOf", ()):
        if option.get("type") != "null":
            return {**option, **{k: v for k, v in schema.items() if k != "anyOf"}}
    return schema


def fields_of(model: type[BaseModel], group: str, *, values: Mapping[str, Any] | None = None,
              stored_secrets: Iterable[str] = ()) -> list[Field]:
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    stored = set(stored_secrets)
    found = []
    for name, raw in schema.get("properties", {}).items():
        spec = _plain(raw)
        secret = bool(spec.get("writeOnly"))
        multiline = bool(spec.get("multiline"))
        options: list[tuple[str, str]] = []
        if "enum" in spec:
            titles = spec.get("enum_titles") or [str(value) for value in spec["enum"]]
            options = [(str(value), str(title)) for value, title in zip(spec["enum"], titles,
                                                                          strict=True)]
            kind = "select"
        elif multiline:
            kind = "textarea"
        elif secret:
            kind = "password"
        elif spec.get("type") == "integer":
            kind = "number"
        else:
            kind = "text"
        current = (values or {}).get(name, spec.get("default"))
        hint_by = None
        if "hint_by" in spec:
            source, hints = next(iter(spec["hint_by"].items()))
            hint_by = (f"{group}.{source}", json.dumps(hints))
        found.append(Field(
            group=group, name=name, label=str(spec.get("title", name)),
            help=str(spec.get("description", "")), kind=kind,
            required=name in required and not (secret and name in stored), secret=secret,
            options=options, value="" if secret or current is None else _text(current),
            stored=secret and name in stored, hint_by=hint_by))
    return found


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "\n".join(str(item) for item in value)
    return str(value)


def submitted(form: Mapping[str, Any], group: str, fields: Iterable[Field]) -> dict[str, Any]:
    """The values a form posted for one group. An empty optional field is left out; an empty
    stored secret is the placeholder, which keeps it."""
    values: dict[str, Any] = {}
    for item in fields:
        if item.group != group:
            continue
        raw = form.get(item.input_name)
        text = raw.strip() if isinstance(raw, str) and not item.secret else (raw or "")
        if item.secret:
            if text and text != SECRET_PLACEHOLDER:
                values[item.name] = text
            elif item.stored:
                values[item.name] = SECRET_PLACEHOLDER
        elif text != "":
            values[item.name] = text
        item.value = "" if item.secret else str(text)
    return values


def place_errors(messages: Iterable[str], fields: list[Field]) -> list[str]:
    """Puts each API error message on the field it names (`configuration.url: ...`, or a
    model-level message that starts with a field's label, as "Health Check URL: ..."); returns
    the messages that belong to no field, for the form's own error summary."""
    by_input = {item.input_name: item for item in fields}
    by_label = {item.label.lower(): item for item in fields}
    unplaced = []
    for message in messages:
        match = _LOCATED.match(message)
        target, text = None, message
        if match and match["name"]:
            target, text = by_input.get(f"{match['group']}.{match['name']}"), match["msg"]
        elif match:
            label, _, rest = match["msg"].partition(": ")
            target = by_label.get(label.lower()) if rest else None
            text = rest if target else match["msg"]
        if target is None:
            unplaced.append(text)
        else:
            target.error = text if target.error is None else f"{target.error}; {text}"
    return unplaced
