"""Sandboxed Jinja2 for step inputs and trigger conditions (SEC-6).

Templates see only what a run passes in — the incident, earlier steps' outputs, the run and
workflow ids, the date — never settings, the environment or Python objects: the sandbox refuses
attribute access to internals, and nothing else is in scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

_inputs = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_conditions = SandboxedEnvironment(autoescape=False)
_MARKERS = ("{{", "{%")


class TemplateFailure(ValueError):
    pass


def is_templated(value: Any) -> bool:
    if isinstance(value, str):
        return any(marker in value for marker in _MARKERS)
    if isinstance(value, Mapping):
        return any(is_templated(item) for item in value.values())
    if isinstance(value, list):
        return any(is_templated(item) for item in value)
    return False


# The names a step's template may use: what the engine's scope holds (`Engine._scope`).
SCOPE_NAMES = frozenset({"incident", "steps", "run", "workflow", "current_date"})


def check_syntax(value: Any) -> None:
    """Raises TemplateFailure when a template in `value` does not parse, or uses a name the
    run's scope does not have (it would fail every run)."""
    if isinstance(value, str) and is_templated(value):
        try:
            unknown = meta.find_undeclared_variables(_inputs.parse(value)) - SCOPE_NAMES \
                - _inputs.globals.keys()
        except TemplateError as exc:
            raise TemplateFailure(str(exc)) from None
        if unknown:
            raise TemplateFailure(
                f"unknown name {', '.join(sorted(unknown))} (templates see "
                f"{', '.join(sorted(SCOPE_NAMES))})")
    elif isinstance(value, Mapping):
        for item in value.values():
            check_syntax(item)
    elif isinstance(value, list):
        for item in value:
            check_syntax(item)


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Renders every templated string in `value` (recursively); others pass unchanged."""
    if isinstance(value, str):
        if not is_templated(value):
            return value
        try:
            return _inputs.from_string(value).render(**context)
        except TemplateError as exc:
            raise TemplateFailure(str(exc)) from None
    if isinstance(value, Mapping):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value


def compile_condition(source: str) -> Any:
    try:
        return _conditions.compile_expression(source, undefined_to_none=True)
    except TemplateError as exc:
        raise TemplateFailure(str(exc)) from None


def evaluate(source: str, scope: Mapping[str, Any]) -> bool:
    """A logic step's expression over the run's scope; TemplateFailure when it cannot be
    evaluated (the step fails and says why)."""
    expression = compile_condition(source)
    try:
        return bool(expression(**scope))
    except Exception as exc:  # the sandbox's SecurityError, an undefined attribute, a type
        raise TemplateFailure(f"{type(exc).__name__}: {exc}") from None


def condition_holds(source: str | None, incident: Mapping[str, Any]) -> bool:
    """An absent condition always holds; one that fails to evaluate does not."""
    if not source:
        return True
    try:
        return bool(compile_condition(source)(incident=dict(incident)))
    except Exception:  # a bad value in one incident must not stop the relay
        return False
