"""Every API-key tool through `fireline serve`: its connection saved over the REST API and
Healthy, each of its actions run once by a manually started workflow, and a periodic health
check recorded — all of it through egress in the served process (uvicorn on uvloop)."""

from __future__ import annotations

from typing import Any

import pytest

from fireline.integrations import registry
from tests.served.cases import CASES
from tests.served.cases.base import ToolCase
from tests.served.harness import Served


def _connect(served: Served, case: ToolCase) -> dict[str, Any]:
    created = served.create_connection(case.slug, {
        "name": f"{case.slug} (served)", "configuration": case.config, "secrets": case.secrets})
    assert created.status_code == 201, created.text
    connection: dict[str, Any] = created.json()["connection"]
    assert connection["health"]["status"] == "Healthy", connection["health"]
    return connection


@pytest.mark.parametrize("case", CASES, ids=[case.slug for case in CASES])
def test_a_tool_connects_runs_every_action_and_is_checked_periodically(
    served: Served, case: ToolCase
) -> None:
    connection = _connect(served, case)
    run = served.run_workflow({
        "name": f"every {case.slug} action",
        "steps": [{"id": f"step{index}", "action": f"{case.slug}.{action}",
                   "connection": connection["id"], "with": inputs}
                  for index, (action, inputs) in enumerate(case.steps)],
    }, title=f"{case.slug} from outside")
    assert run["status"] == "succeeded", run
    outputs = {action: step["output"] for (action, _), step in zip(case.steps, run["steps"],
                                                                   strict=True)}
    case.check(outputs)
    periodic = served.wait_for_periodic_check(case.slug, connection["id"])
    assert periodic["is_healthy"] is True, periodic


@pytest.mark.parametrize("case", [c for c in CASES if c.wrong_secrets is not None],
                         ids=lambda case: case.slug)
def test_a_wrong_credential_is_refused_and_nothing_is_stored(
    served: Served, case: ToolCase
) -> None:
    assert case.wrong_secrets is not None
    name = f"{case.slug} with a wrong key"
    refused = served.create_connection(case.slug, {
        "name": name, "configuration": case.config, "secrets": case.wrong_secrets})
    assert 400 <= refused.status_code < 500, refused.text
    assert "could not be verified" in refused.json()["error"]["message"]
    assert name not in [c["name"] for c in served.connections(case.slug)]


def test_elasticsearch_search_then_a_note_on_the_incident(served: Served) -> None:
    """The issue's acceptance, as a new user meets it after `make run`."""
    case = next(c for c in CASES if c.slug == "elasticsearch")
    connection = _connect(served, case)
    action, inputs = case.steps[0]
    run = served.run_workflow({"name": "errors to the incident", "steps": [
        {"id": "logs", "action": f"elasticsearch.{action}", "connection": connection["id"],
         "with": inputs},
        {"id": "note", "action": "fireline.add_note",
         "with": {"content": "{{ steps.logs.output.total }} error(s): "
                             "{{ steps.logs.output.hits[0]._source.message }}"}}]},
        title="checkout errors")
    assert run["status"] == "succeeded", run
    notes = served.http.get(f"/api/incidents/{run['incident']['id']}/notes").json()["notes"]
    assert [note["content"] for note in notes] == ["1 error(s): payment failed"]


def test_every_tool_with_a_form_has_a_case() -> None:
    # OAuth tools: test_oauth_tools; AWS (role assumption): test_aws.
    assert {case.slug for case in CASES} == {
        integration.slug for integration in registry.INTEGRATIONS if integration.auth == "form"}
    assert {i.auth for i in registry.INTEGRATIONS} == {"form", "oauth", "aws_role"}
