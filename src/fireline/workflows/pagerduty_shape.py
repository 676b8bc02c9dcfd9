"""PagerDuty's REST shape of an incident workflow, beside ours: read both ways, written both.

    {"incident_workflow": {"name", "description", "team"?, "is_enabled"?,
      "steps": [{"name", "action_configuration": {"action_id", "inputs": [{"name", "value"}],
                 "inline_steps_inputs": [{"name", "value": {"steps": [...]}}]}}]}}

Which shape a body is in: PagerDuty's when any step has `action_configuration`, else ours.
Read-only fields PagerDuty clients send back (`id`, `type`, `self`, a step's `description`,
an input's `parameter_type`, `outputs`) are ignored.

From PagerDuty's shape to ours (`to_definition`):
- `action_id` is looked up in the catalog (`catalog.resolve`: exactly, or another version of
  a PagerDuty function we map). Inputs are matched by name (the catalog's name or our key,
  ignoring case); their values are strings, converted to the input's type — integer,
  decimal, boolean (true/false, yes/no, 1/0), JSON for lists and dicts, a choice by its text.
  A templated value (`{{ ... }}`) stays text: it is checked when it is rendered. Every problem
  is reported at once, naming the step (its position and name) and the input.
- A tool action's `connection` input names the connection by id; absent or empty, the tool's
  default.
- Step ids come from the step's `id` when it is a valid id of ours (what our reads give;
  the first step giving an id has it, wherever it is), else from its name
  (`Send Status Update` → `send_status_update`, made unique, never one a step gives).
- `inline_steps_inputs` are a logic step's nested steps: `then`/`else` of
  `fireline.condition`, PagerDuty's `Actions` (or our `steps`) of its Loop Until.
- What PagerDuty's shape has no field for comes from the version being replaced (PUT): the
  trigger (PagerDuty keeps triggers as their own resource), who may run it, the run's
  timeout, and each kept step's retry and timeout (a step is kept when its id and action are
  the same). Steps run in order: PagerDuty's steps are sequential, so `needs` is not kept.
- `team` is refused: PagerDuty scopes who may *edit* the workflow to a team's members, and
  Fireline has no such scope (global managers and team managers edit every workflow;
  `run_permission` decides who may run it). Storing it without enforcing it would promise
  what is not kept.

From ours to PagerDuty's (`pd_step`, `workflow_body`): step names are the ids in words
(`send_status_update` → `Send status update`), inputs carry the values set in `with`
(serialised as strings; text in a json input that would read as JSON is written as a JSON
string, so that it reads back as text) and the connection, outputs are the action's. There
is no `team` (PagerDuty's is a team reference when present; ours have none).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fireline.core.clock import isoformat
from fireline.core.errors import InvalidInputError, located_messages, validation_message
from fireline.core.resources import resource
from fireline.workflows import catalog, templates
from fireline.workflows.definitions import Definition, Step
from fireline.workflows.models import Workflow

_STEP_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


class _Open(BaseModel):
    # PagerDuty's bodies carry read-only fields back; they are ignored, as PagerDuty does.
    model_config = ConfigDict(extra="ignore")


class PdInput(_Open):
    name: str = Field(min_length=1, max_length=255)
    value: str | bool | int | float | list[Any] | dict[str, Any]


class PdInlineSteps(_Open):
    steps: list[PdStep] = Field(default_factory=list)


class PdInlineInput(_Open):
    name: str = Field(min_length=1, max_length=255)
    value: PdInlineSteps


class PdActionConfiguration(_Open):
    action_id: str = Field(min_length=1, max_length=255)
    inputs: list[PdInput] = Field(default_factory=list)
    inline_steps_inputs: list[PdInlineInput] = Field(default_factory=list)


class PdStep(_Open):
    id: str | None = None
    name: str = Field(min_length=1, max_length=255)
    action_configuration: PdActionConfiguration


PdInlineSteps.model_rebuild()


class PdTeam(_Open):
    id: str
    type: str = "team_reference"


class PdWorkflow(_Open):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)
    team: PdTeam | None = None
    is_enabled: bool | None = None
    steps: list[PdStep] = Field(default_factory=list)


def is_pagerduty(data: Mapping[str, Any]) -> bool:
    steps = data.get("steps")
    return isinstance(steps, list) and any(
        isinstance(step, Mapping) and "action_configuration" in step for step in steps)


def step_id_for(name: str, taken: set[str]) -> str:
    """An id of ours from a step's name: ASCII snake case, starting with a letter, unique."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    if not base or not base[0].isalpha():
        base = f"step_{base}".rstrip("_")
    base = base[:64].rstrip("_")
    candidate, number = base, 2
    while candidate in taken:
        suffix = f"_{number}"
        candidate, number = base[:64 - len(suffix)] + suffix, number + 1
    return candidate


def step_name_for(step_id: str) -> str:
    words = step_id.replace("_", " ")
    return words[:1].upper() + words[1:]


def _convert(spec: catalog.Input, raw: Any) -> Any:
    """A PagerDuty input value (text) as the input's type; ValueError says why not."""
    if not isinstance(raw, str):
        return raw  # already typed: the action's model checks it
    if templates.is_templated(raw):
        return raw
    text = raw.strip()
    try:
        if spec.type == "integer":
            return int(text)
        if spec.type == "decimal":
            return float(text)
    except ValueError:
        if spec.takes_text:
            return raw
        kind = "an integer" if spec.type == "integer" else "a number"
        raise ValueError(f"expected {kind}, got {raw!r}") from None
    if spec.type == "boolean":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        if spec.takes_text:
            return raw
        raise ValueError(f"expected true or false, got {raw!r}")
    if spec.type == "singleChoice":
        return next((choice for choice in spec.choices if catalog.serialise(choice) == text), raw)
    if spec.type == "multipleChoice":
        try:
            chosen = json.loads(text)
        except ValueError:
            chosen = [part.strip() for part in text.split(",") if part.strip()]
        by_text = {catalog.serialise(choice): choice for choice in spec.choices}
        return [by_text.get(item, item) if isinstance(item, str) else item
                for item in (chosen if isinstance(chosen, list) else [chosen])]
    if spec.type == "json":
        try:
            return json.loads(text)
        except ValueError:
            return raw  # text the action's model may take (header lines, a JSON text field)
    return raw


def _model_errors(action: catalog.CatalogAction, values: dict[str, Any], label: str,
                  failed: set[str]) -> list[str]:
    """The action's own validation of the fixed inputs, in the input names the body used;
    `failed`: the inputs whose value did not convert (reported already)."""
    templated = {key for key, value in values.items() if templates.is_templated(value)}
    unchecked = templated | failed
    try:
        action.model.model_validate({k: v for k, v in values.items() if k not in templated})
    except ValidationError as exc:
        names = {item.key: item.name for item in action.inputs}
        errors = []
        for item in exc.errors(include_input=False, include_url=False):
            loc = item["loc"]
            # A templated input is checked when rendered, as `definitions` does; one that did
            # not convert is missing here, and "Field required" would only repeat its error.
            if (loc[0] in unchecked) if loc else unchecked:
                continue
            where = f"input {names.get(str(loc[0]), str(loc[0]))!r}" if loc else "inputs"
            if len(loc) > 1:
                where += "." + ".".join(str(part) for part in loc[1:])
            errors.append(f"{label}: {where}: {validation_message(item)}")
        return errors
    return []


class _Converter:
    def __init__(self, previous: Definition | None, steps: list[PdStep]) -> None:
        self.errors: list[str] = []
        self.previous = {step.id: step for step in previous.all_steps} if previous else {}
        # Given ids are reserved before any id is made from a name: a new step named "Note"
        # put before the step `note` must not take its id (and its retry, timeout and the
        # templates that refer to it).
        self.reserved: dict[str, PdStep] = {}
        self._reserve(steps)
        self.taken: set[str] = set(self.reserved)

    def _reserve(self, steps: list[PdStep]) -> None:
        for step in steps:
            if step.id and _STEP_ID.match(step.id):
                self.reserved.setdefault(step.id, step)
            for inline in step.action_configuration.inline_steps_inputs:
                self._reserve(inline.value.steps)

    def _id(self, step: PdStep) -> str:
        given = step.id
        if given and self.reserved.get(given) is step:
            return given
        step_id = step_id_for(step.name, self.taken)
        self.taken.add(step_id)
        return step_id

    def steps(self, items: list[PdStep], where: str) -> list[dict[str, Any]]:
        converted = (self.step(item, f"{where}[{index}]") for index, item in enumerate(items))
        return [step for step in converted if step is not None]

    def step(self, raw: PdStep, where: str) -> dict[str, Any] | None:
        label = f"{where} {raw.name!r}"
        step_id = self._id(raw)
        config = raw.action_configuration
        action = catalog.resolve(config.action_id)
        if action is None:
            self.errors.append(f"{label}: action_id {config.action_id!r}: no such action "
                               "(GET /api/incident_workflows/actions lists them)")
            return None
        values: dict[str, Any] = {}
        connection = catalog.DEFAULT_CONNECTION
        seen: set[str] = set()
        failed: set[str] = set()
        for item in config.inputs:
            spec = action.input_named(item.name)
            if spec is None:
                known = ", ".join(repr(i.name) for i in action.inputs) or "none"
                self.errors.append(f"{label}: input {item.name!r}: {action.name} has no such "
                                   f"input (its inputs: {known})")
                continue
            if spec.key in seen:
                self.errors.append(f"{label}: input {item.name!r} is given twice")
                continue
            seen.add(spec.key)
            if spec.type == "connection":
                if isinstance(item.value, str):
                    connection = item.value.strip() or catalog.DEFAULT_CONNECTION
                else:
                    self.errors.append(f"{label}: input {item.name!r}: a connection's id")
                continue
            try:
                values[spec.key] = _convert(spec, item.value)
            except ValueError as exc:
                failed.add(spec.key)
                self.errors.append(f"{label}: input {item.name!r}: {exc}")
        self.errors.extend(_model_errors(action, values, label, failed))
        step: dict[str, Any] = {"id": step_id, "action": action.key, "with": values}
        if action.integration is not None:
            step["connection"] = connection
        kept = self.previous.get(step_id)
        if kept is not None and kept.action == action.key:
            step["timeout_seconds"] = kept.timeout_seconds
            step["retry"] = kept.retry.model_dump(mode="json")
        for inline in config.inline_steps_inputs:
            branch = action.branch_named(inline.name)
            if branch is None:
                names = ", ".join(repr(name) for name in action.inline) or "none"
                self.errors.append(f"{label}: inline_steps_inputs {inline.name!r}: "
                                   f"{action.name} takes no such inline steps ({names})")
            elif branch in step:
                self.errors.append(f"{label}: inline_steps_inputs {inline.name!r} is given "
                                   "twice")
            else:
                step[branch] = self.steps(inline.value.steps, f"{where}.{inline.name}")
        return step


def to_definition(data: Mapping[str, Any], *, previous: Definition | None = None
                  ) -> dict[str, Any]:
    """Our definition (a mapping for `definitions.parse`) from PagerDuty's shape."""
    try:
        workflow = PdWorkflow.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInputError("Invalid workflow definition",
                                errors=located_messages(exc, "incident_workflow")) from None
    converter = _Converter(previous, workflow.steps)
    if workflow.team is not None:
        converter.errors.append(
            "team: Fireline has no team-scoped edit permission for workflows (global "
            "managers and team managers edit every workflow); leave `team` out, and use "
            "`run_permission` in our shape for who may run it")
    steps = converter.steps(workflow.steps, "steps")
    if converter.errors:
        raise InvalidInputError("Invalid workflow definition", errors=converter.errors)
    kept = previous.model_dump(mode="json", by_alias=True) if previous is not None else {}
    definition: dict[str, Any] = {
        "name": workflow.name,
        "description": workflow.description if workflow.description is not None
        else kept.get("description", ""),
        "enabled": workflow.is_enabled if workflow.is_enabled is not None
        else kept.get("enabled", True),
        "steps": steps,
    }
    definition.update({key: kept[key] for key in ("trigger", "run_permission", "timeout_seconds")
                       if key in kept})
    return definition


def _inputs(action: catalog.CatalogAction | None, step: Step) -> list[dict[str, Any]]:
    if action is None:  # an action no longer installed: its values as they are
        return [{"name": key, "parameter_type": "json", "value": catalog.serialise(value)}
                for key, value in step.with_.items()]
    inputs = []
    if action.integration is not None:
        inputs.append({"name": catalog.CONNECTION_INPUT, "parameter_type": "connection",
                       "value": step.connection})
    by_key = {item.key: item for item in action.inputs}
    for key, value in step.with_.items():
        if value is None:
            continue  # unset: the action's default
        spec = by_key.get(key)
        inputs.append({"name": spec.name if spec else key,
                       "parameter_type": spec.type if spec else "json",
                       "value": _value_text(spec, value)})
    return inputs


def _value_text(spec: catalog.Input | None, value: Any) -> str:
    """A value as an input's text, read back by `_convert` as the same value: text a json
    input holds that would read as JSON (`"123"`, `"{...}"`) is written as a JSON string."""
    if spec is not None and spec.type == "json" and isinstance(value, str) \
            and not templates.is_templated(value):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value, ensure_ascii=False)
    return catalog.serialise(value)


def pd_step(step: Step) -> dict[str, Any]:
    """One step (and the steps it holds) in PagerDuty's shape."""
    action = catalog.by_key(step.action)
    description = action.description if action else step.action
    configuration: dict[str, Any] = {
        "action_id": action.id if action else step.action,
        "description": description,
        "inputs": _inputs(action, step),
        "outputs": [{"name": item.name, "reference_name": item.key, "parameter_type": item.type}
                    for item in (action.outputs if action else ())],
    }
    branches = step.branches()
    if branches:
        configuration["inline_steps_inputs"] = [
            {"name": action.inline_name(branch) if action else branch,
             "value": {"steps": [pd_step(inner) for inner in items]}}
            for branch, items in branches.items()]
    return {"id": step.id, "type": "step", "name": step_name_for(step.id),
            "description": description, "action_configuration": configuration}


def workflow_body(base_url: str, workflow: Workflow, definition: Definition | None
                  ) -> dict[str, Any]:
    """The workflow in PagerDuty's `IncidentWorkflow` shape; its steps when `definition`
    is given."""
    # No `team`: PagerDuty's is an object (a team reference) when present, and Fireline's
    # workflows have none (`to_definition` refuses one).
    body = resource(base_url, "incident_workflow", workflow.id, workflow.name,
                    name=workflow.name, description=workflow.description,
                    created_at=isoformat(workflow.created_at), is_enabled=workflow.enabled)
    if definition is not None:
        body["steps"] = [pd_step(step) for step in definition.steps]
    return body
