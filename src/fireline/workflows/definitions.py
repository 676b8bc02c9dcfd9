"""The workflow definition format (DESIGN "Workflows"), one for the API, the CLI and the UI.

    name, description, enabled, timeout_seconds
    trigger: one trigger (`workflows.triggers`: manual, conditional, incident_type)
    run_permission: {type: everyone} | {type: teams, teams: [team ids]}
    steps: [{id, action, connection, with, needs, timeout_seconds, retry}]

Two logic steps hold steps of their own (DESIGN "Workflows"):

    {id, action: fireline.condition, with: {expression}, then: [steps], else: [steps]}
    {id, action: fireline.loop_until, with: {expression, max_iterations, interval_seconds},
     steps: [steps]}

A condition runs one branch; a loop runs its steps, then checks its expression, and runs them
again (after the interval) until it holds. Nested steps run in order (no `needs`). For the
engine a definition is flat (`all_steps`, in position order): each nested step is a step of
the run like any other, and what follows a block waits for the block's end (`needs_of`):
  - a condition's branches each follow the condition step; a step after the block needs the
    condition and the last step of each branch (the branch not taken ends `not_taken`);
  - a loop's first step follows what the loop follows, and the loop step itself (the check)
    needs its last step: a step after the loop needs only the loop step.

Validation refuses: unknown actions, unknown or ill-typed inputs (a templated value is
checked when it is rendered, at run time), templates or conditions that do not parse,
duplicate step ids, `needs` naming unknown steps, and cycles. A step without `needs` follows
the step before it; `needs: []` starts a parallel branch at the beginning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fireline.core.errors import InvalidInputError, located_messages
from fireline.integrations import registry
from fireline.workflows import templates
from fireline.workflows.builtins import BUILTINS
from fireline.workflows.triggers import (  # noqa: F401 - importable from here, as before
    EVENT_KINDS,
    ConditionalTrigger,
    EventKind,
    IncidentTypeTrigger,
    ManualTrigger,
    Trigger,
)
from fireline.workflows.triggers import default as default_trigger

BUILTIN_PREFIX = "fireline"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Retry(_Closed):
    max_attempts: int = Field(default=3, ge=1, le=10)
    backoff: float = Field(default=2.0, ge=0, le=3600, description="First delay, in seconds")


CONDITION = "fireline.condition"
LOOP_UNTIL = "fireline.loop_until"
LOGIC_BLOCKS = (CONDITION, LOOP_UNTIL)
MAX_STEPS = 100


class Step(_Closed):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    action: str = Field(min_length=3, max_length=120)
    connection: str = Field(default="default", min_length=1, max_length=20)
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    needs: list[str] | None = None
    timeout_seconds: int = Field(default=60, ge=1, le=3600)
    retry: Retry = Field(default_factory=Retry)
    # fireline.condition's branches, fireline.loop_until's body.
    then: list[Step] | None = Field(default=None, max_length=MAX_STEPS)
    else_: list[Step] | None = Field(default=None, alias="else", max_length=MAX_STEPS)
    steps: list[Step] | None = Field(default=None, max_length=MAX_STEPS)

    @model_validator(mode="after")
    def _blocks_fit_the_action(self) -> Step:
        if self.action == CONDITION:
            if self.steps is not None:
                raise ValueError(f"step {self.id!r}: a condition has `then` and `else`, "
                                 "not `steps`")
            if not (self.then or self.else_):
                raise ValueError(f"step {self.id!r}: a condition needs `then` or `else` steps")
        elif self.action == LOOP_UNTIL:
            if self.then is not None or self.else_ is not None:
                raise ValueError(f"step {self.id!r}: a loop has `steps`, not `then`/`else`")
            if not self.steps:
                raise ValueError(f"step {self.id!r}: a loop needs `steps` to repeat")
        elif self.then is not None or self.else_ is not None or self.steps is not None:
            raise ValueError(f"step {self.id!r}: only fireline.condition and "
                             "fireline.loop_until hold steps")
        for nested in self.branches().values():
            for inner in nested:
                if inner.needs is not None:
                    raise ValueError(f"step {inner.id!r}: steps inside {self.id!r} run in "
                                     "order; `needs` is for top-level steps")
        return self

    def branches(self) -> dict[str, list[Step]]:
        """The step lists this step holds, by name (then, else, steps)."""
        named = {"then": self.then, "else": self.else_, "steps": self.steps}
        return {name: items for name, items in named.items() if items}


class RunPermission(_Closed):
    type: Literal["everyone", "teams"] = "everyone"
    teams: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _teams_given(self) -> RunPermission:
        if self.type == "teams" and not self.teams:
            raise ValueError("teams: name at least one team")
        return self


class Definition(_Closed):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=10_000)
    enabled: bool = True
    trigger: Trigger = Field(default_factory=default_trigger)
    run_permission: RunPermission = Field(default_factory=RunPermission)
    timeout_seconds: int = Field(default=3600, ge=1, le=7 * 86400)
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    @model_validator(mode="after")
    def _graph_is_sound(self) -> Definition:
        ids = [step.id for step in self.all_steps]
        if len(ids) > MAX_STEPS:
            raise ValueError(f"at most {MAX_STEPS} steps, nested ones included ({len(ids)})")
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError("duplicate step ids: " + ", ".join(duplicates))
        top = {step.id for step in self.steps}
        for step in self.steps:
            for need in step.needs or []:
                if need not in top:
                    where = "a step inside a block" if need in ids else "unknown step"
                    raise ValueError(f"step {step.id!r} needs {where} {need!r}")
        _check_acyclic(self)
        return self

    @cached_property
    def _flat(self) -> _Flat:
        return _flatten(self.steps)

    @property
    def all_steps(self) -> list[Step]:
        """Every step, nested ones included, in position order."""
        return self._flat.steps

    def needs_of(self, step: Step) -> list[str]:
        return list(self._flat.needs[step.id])

    def step(self, step_id: str) -> Step:
        return self._flat.by_id[step_id]

    def scope_of(self, step_id: str) -> tuple[tuple[str, str], ...]:
        """The blocks a step is inside, outermost first: (block step id, branch name)."""
        return self._flat.scopes[step_id]

    def inside(self, step_id: str, block_id: str, branch: str | None = None) -> bool:
        return any(block == block_id and branch in (None, name)
                   for block, name in self.scope_of(step_id))


@dataclass
class _Flat:
    steps: list[Step]
    by_id: dict[str, Step]
    needs: dict[str, list[str]]
    scopes: dict[str, tuple[tuple[str, str], ...]]


def _flatten(top: list[Step]) -> _Flat:
    flat = _Flat([], {}, {}, {})
    # What a step after `step` waits for: its own end, or a block's.
    def exits(step: Step) -> list[str]:
        if step.action == CONDITION:
            return [step.id, *(e for items in step.branches().values() for e in exits(items[-1]))]
        return [step.id]

    def walk(items: list[Step], entry: list[str], scope: tuple[tuple[str, str], ...],
             top_level: bool) -> None:
        previous: Step | None = None
        for step in items:
            if top_level and step.needs is not None:
                # An unknown id is kept as it is: validation names it.
                needs = [e for need in step.needs
                         for e in (exits(flat.by_id[need]) if need in flat.by_id else [need])]
            else:
                needs = exits(previous) if previous is not None else list(entry)
            flat.steps.append(step)
            flat.by_id[step.id] = step
            flat.scopes[step.id] = scope
            if step.action == LOOP_UNTIL and step.steps:
                walk(step.steps, needs, (*scope, (step.id, "steps")), False)
                flat.needs[step.id] = exits(step.steps[-1])
            else:
                flat.needs[step.id] = needs
                for name, branch in step.branches().items():
                    walk(branch, [step.id], (*scope, (step.id, name)), False)
            previous = step

    # `needs` may name a later top-level step: know every top-level id first.
    for step in top:
        flat.by_id[step.id] = step
    walk(top, [], (), True)
    return flat


def _check_acyclic(definition: Definition) -> None:
    edges = {step.id: definition.needs_of(step) for step in definition.all_steps}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = [*path[path.index(node):], node]
            raise ValueError("needs form a cycle: " + " -> ".join(cycle))
        state[node] = 1
        for need in edges[node]:
            visit(need, [*path, node])
        state[node] = 2

    for node in edges:
        visit(node, [])


@dataclass(frozen=True)
class ActionSpec:
    """What the engine needs to know about an action, built-in or integration."""

    key: str
    input: type[BaseModel]
    idempotent: bool
    builtin: bool
    integration: str | None


def find_action(key: str) -> ActionSpec | None:
    slug, _, name = key.partition(".")
    if slug == BUILTIN_PREFIX:
        builtin = BUILTINS.get(name)
        if builtin is None:
            return None
        return ActionSpec(key, builtin.input, builtin.idempotent, True, None)
    integration = registry.get(slug)
    action = integration.action(name) if integration else None
    if action is None:
        return None
    return ActionSpec(key, action.input, action.idempotent, False, slug)


def _check_inputs(step: Step, spec: ActionSpec) -> list[str]:
    prefix = f"steps.{step.id}.with"
    try:
        templates.check_syntax(step.with_)
    except templates.TemplateFailure as exc:
        return [f"{prefix}: template does not parse: {exc}"]
    templated = {key for key, value in step.with_.items() if templates.is_templated(value)}
    fixed = {key: value for key, value in step.with_.items() if key not in templated}
    try:
        spec.input.model_validate(fixed)
    except ValidationError as exc:
        # A templated input is rendered at run time and checked then, and so are the
        # model's own rules (which may hold once the templated inputs are there).
        return located_messages(exc, prefix, skip=lambda loc: (
            loc[0] in templated if loc else bool(templated)))
    return []


def parse(data: Mapping[str, Any]) -> Definition:
    """Validates a definition; every problem is listed in one InvalidInputError."""
    try:
        definition = Definition.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInputError("Invalid workflow definition",
                                errors=located_messages(exc, "incident_workflow")) from None
    errors = []
    for step in definition.all_steps:
        spec = find_action(step.action)
        if spec is None:
            errors.append(f"steps.{step.id}.action: unknown action {step.action!r}")
            continue
        if spec.builtin and step.connection != "default":
            errors.append(f"steps.{step.id}.connection: built-in actions take no connection")
        errors.extend(_check_inputs(step, spec))
        expression = step.with_.get("expression")
        if step.action in LOGIC_BLOCKS and isinstance(expression, str):
            try:
                templates.compile_condition(expression)
            except templates.TemplateFailure as exc:
                errors.append(f"steps.{step.id}.with.expression: does not parse: {exc}")
    if errors:
        raise InvalidInputError("Invalid workflow definition", errors=errors)
    return definition


def stored(definition: Definition) -> dict[str, Any]:
    """The JSON kept in a version row and shown by the API (the `with` key, as written)."""
    return definition.model_dump(mode="json", by_alias=True)


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 reads the trigger's `on:` key (and
    yes/no/off) as booleans — the trap GitHub Actions files are known for."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_text(text: str) -> Mapping[str, Any]:
    """YAML or JSON (JSON is YAML): a mapping, or InvalidInputError."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"Not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInputError("A workflow definition is a mapping")
    return data


def dump_text(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)
