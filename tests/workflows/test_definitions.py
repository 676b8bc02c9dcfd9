from __future__ import annotations

from typing import Any

import pytest

from fireline.core.errors import InvalidInputError
from fireline.workflows import definitions, templates


def _definition(*steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": "W", "steps": list(steps), **fields}


def _errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidInputError) as caught:
        definitions.parse(data)
    return caught.value.errors


SEARCH = {"id": "logs", "action": "elasticsearch.search_logs",
          "with": {"index_pattern": "logs-*", "query_type": "kql", "query": "level:error"}}


def test_design_example_parses_with_defaults() -> None:
    parsed = definitions.parse(_definition(
        SEARCH, {"id": "note", "action": "fireline.add_note",
                 "with": {"content": "{{ steps.logs.output.total }} errors"}},
        trigger={"type": "conditional", "on": ["incident.triggered"],
                 "condition": "incident.urgency == 'high'"}))
    assert parsed.steps[0].connection == "default"
    assert parsed.steps[0].retry.max_attempts == 3
    assert parsed.needs_of(parsed.steps[1]) == ["logs"]  # ordered steps follow each other
    assert definitions.stored(parsed)["steps"][1]["with"]["content"].startswith("{{")


@pytest.mark.parametrize(("step", "expected"), [
    ({"id": "x", "action": "nope.thing"}, "unknown action 'nope.thing'"),
    ({"id": "x", "action": "fireline.fly"}, "unknown action 'fireline.fly'"),
    ({**SEARCH, "with": {**SEARCH["with"], "colour": "red"}}, "with.colour: Extra inputs"),
    ({**SEARCH, "with": {**SEARCH["with"], "query_type": "sql"}}, "with.query_type"),
    ({**SEARCH, "with": {"query": "x"}}, "with.index_pattern: Field required"),
    ({"id": "n", "action": "fireline.add_note", "with": {"content": "{{ unclosed"}},
     "template does not parse"),
    ({"id": "n", "action": "fireline.add_note", "connection": "PX", "with": {"content": "x"}},
     "built-in actions take no connection"),
    # A name no run has would fail every run: refused when saved.
    ({"id": "n", "action": "fireline.add_note", "with": {"content": "on {{ today }}"}},
     "unknown name today"),
])
def test_invalid_steps_are_refused_naming_the_problem(step: dict[str, Any], expected: str
                                                      ) -> None:
    assert any(expected in error for error in _errors(_definition(step))), _errors(
        _definition(step))


def test_templated_inputs_are_checked_at_run_time_not_save_time() -> None:
    definitions.parse(_definition({**SEARCH, "with": {**SEARCH["with"],
                                                      "size": "{{ 5 * 4 }}"}}))
    # Every name of the run's scope, Jinja's own globals and a template's own variables.
    definitions.parse(_definition({"id": "n", "action": "fireline.add_note", "with": {
        "content": "{{ current_date }} {{ incident.title }} {{ run.id }} {{ workflow.name }} "
                   "{{ steps | length }} {% for i in range(2) %}{{ i }}{% endfor %}"}}))


def test_needs_cycles_unknown_needs_and_duplicates_are_refused() -> None:
    note = {"action": "fireline.noop"}
    cycle = _errors(_definition({"id": "a", **note, "needs": ["b"]},
                                {"id": "b", **note, "needs": ["a"]}))
    assert any("cycle" in error for error in cycle)
    assert any("unknown step 'zz'" in e
               for e in _errors(_definition({"id": "a", **note, "needs": ["zz"]})))
    assert any("duplicate step ids: a" in e
               for e in _errors(_definition({"id": "a", **note}, {"id": "a", **note})))


def test_trigger_validation() -> None:
    bad_event = _errors(_definition({"id": "a", "action": "fireline.noop"},
                                    trigger={"type": "conditional", "on": ["incident.exploded"]}))
    assert any("trigger.conditional.on.0" in e for e in bad_event)
    bad_condition = _errors(_definition({"id": "a", "action": "fireline.noop"}, trigger={
        "type": "conditional", "on": ["incident.triggered"], "condition": "incident.title =="}))
    assert any("condition does not parse" in e for e in bad_condition)


def test_conditions_evaluate_over_the_incident() -> None:
    incident = {"urgency": "high", "title": "db down", "priority": None}
    holds = "incident.urgency == 'high' and 'db' in incident.title"
    assert templates.condition_holds(holds, incident)
    assert not templates.condition_holds("incident.urgency == 'low'", incident)
    assert not templates.condition_holds("incident.missing.deeper == 1", incident)
    assert templates.condition_holds(None, incident)


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ incident.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.environ }}",
    "{{ settings.master_keys }}",
])
def test_sec6_templates_cannot_reach_server_state(source: str) -> None:
    with pytest.raises(templates.TemplateFailure):
        templates.render(source, {"incident": {"title": "x"}, "steps": {}})


def test_yaml_keeps_on_as_a_key() -> None:
    data = definitions.load_text("name: W\ntrigger: {type: conditional, on: [incident.triggered]}"
                                 "\nsteps: [{id: a, action: fireline.noop}]\n")
    assert definitions.parse(data).trigger.type == "conditional"
