"""Settling a run from its steps' states, as the engine reads them: the steps that have not
succeeded (a step left out has succeeded)."""

from __future__ import annotations

from typing import Any

from fireline.core.clock import utcnow
from fireline.workflows import runs
from fireline.workflows.definitions import Definition, parse

NOW = utcnow()


def _definition() -> Definition:
    return parse({"name": "W", "steps": [
        {"id": "a", "action": "fireline.noop"},
        {"id": "b", "action": "fireline.noop"},  # needs a
        {"id": "c", "action": "fireline.noop", "needs": ["a"]},
        {"id": "d", "action": "fireline.noop", "needs": ["b", "c"]},
    ]})


def _state(step_id: str, status: str, position: int, error: str | None = None
           ) -> runs.StepState:
    values: dict[str, Any] = {
        "run_id": "R", "step_id": step_id, "position": position, "action": "fireline.noop",
        "status": status, "attempt": 1, "iteration": 0, "inputs": None, "error": error,
        "connection_id": None, "lease_owner": None, "lease_expires_at": None,
        "next_attempt_at": None, "started_at": None, "finished_at": None}
    return runs.StepState(**values, _loaded=dict(values))


def _settle(*states: runs.StepState) -> tuple[dict[str, str], tuple[str, str | None] | None]:
    steps = {state.step_id: state for state in states}
    ended = runs.settle(definition=_definition(), run_status="running", steps=steps, now=NOW)
    return {step_id: state.status for step_id, state in steps.items()}, ended


def test_a_step_left_out_counts_as_succeeded() -> None:
    # `a` succeeded earlier (left out); `b` just did.
    statuses, ended = _settle(_state("b", "succeeded", 1), _state("c", "waiting", 2),
                              _state("d", "waiting", 3))
    assert statuses == {"b": "succeeded", "c": "ready", "d": "waiting"} and ended is None


def test_the_run_ends_when_nothing_is_left_and_names_its_first_failure() -> None:
    c = _state("c", "failed", 2, error="boom")
    statuses, ended = _settle(_state("b", "succeeded", 1), c, _state("d", "waiting", 3))
    assert statuses["d"] == "skipped"
    assert ended == ("failed", "step c: boom")
    assert c.changes() == {}  # an ended step is not written again


def test_the_last_success_ends_the_run() -> None:
    _, ended = _settle(_state("d", "succeeded", 3))
    assert ended == ("succeeded", None)


def test_changes_name_only_what_was_changed() -> None:
    state = _state("c", "waiting", 2)
    state.status, state.next_attempt_at = "ready", NOW
    assert state.changes() == {"status": "ready", "next_attempt_at": NOW}
