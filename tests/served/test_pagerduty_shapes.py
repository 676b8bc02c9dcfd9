"""Issue 14 in `fireline serve`: a workflow posted in PagerDuty's REST shape is accepted, runs
on an incident and reads back in both shapes; the action catalog it names its actions from
validates against PagerDuty's schema for `GET /incident_workflows/actions`."""

from __future__ import annotations

from typing import Any

from tests.served.harness import PD_ACCEPT, Served
from tests.workflows import pagerduty_schemas

STATUS_UPDATE = "pagerduty.com:incident-workflows:send-status-update:1"
ADD_NOTE = "pagerduty.com:incident-workflows:add-notes-to-incident:1"


def _step(name: str, action_id: str, inputs: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "action_configuration": {
        "action_id": action_id,
        "inputs": [{"name": key, "value": value} for key, value in inputs.items()]}}


def test_a_workflow_in_pagerdutys_shape_runs_in_the_served_process(served: Served) -> None:
    created = served.http.post("/api/incident_workflows", json={"incident_workflow": {
        "name": "Tell everyone (PagerDuty's shape)",
        "description": "A status update, then a note",
        "steps": [
            _step("Send Status Update", STATUS_UPDATE,
                  {"Message": "We are investigating {{ incident.title }}"}),
            _step("Add Note", ADD_NOTE,
                  {"content": "Status update {{ steps.send_status_update.output.status_update_id"
                              " }} sent"}),
        ]}})
    assert created.status_code == 201, created.text
    answer = created.json()
    pagerduty_schemas.validate(answer, pagerduty_schemas.WORKFLOW_RESPONSE)
    workflow = answer["incident_workflow"]
    assert [step["action_configuration"]["action_id"] for step in workflow["steps"]] == [
        STATUS_UPDATE, ADD_NOTE]

    incident = served.incident("Checkout is down")
    run = served.wait_for_run(served.start_run(workflow["id"], incident["id"]))
    assert run["status"] == "succeeded", run
    outputs = {step["id"]: step["output"] for step in run["steps"]}
    update_id = outputs["send_status_update"]["status_update_id"]

    updates = served.http.get(f"/api/incidents/{incident['id']}/status_updates")
    assert updates.status_code == 200, updates.text
    assert [(item["id"], item["message"]) for item in updates.json()["status_updates"]] == [
        (update_id, "We are investigating Checkout is down")]
    notes = served.http.get(f"/api/incidents/{incident['id']}/notes")
    assert notes.status_code == 200, notes.text
    assert [note["content"] for note in notes.json()["notes"]] == [
        f"Status update {update_id} sent"]

    url = f"/api/incident_workflows/{workflow['id']}"
    ours = served.http.get(url, params={"format": "fireline"})
    assert ours.status_code == 200, ours.text
    assert [(step["id"], step["action"]) for step in ours.json()["incident_workflow"]["steps"]
            ] == [("send_status_update", "fireline.send_status_update"),
                  ("add_note", "fireline.add_note")]
    pagerduty = served.http.get(url, headers={"Accept": f"{PD_ACCEPT};format=pagerduty"})
    assert pagerduty.status_code == 200, pagerduty.text
    pagerduty_schemas.validate(pagerduty.json(), pagerduty_schemas.WORKFLOW_RESPONSE)
    assert pagerduty.json()["incident_workflow"]["steps"] == workflow["steps"]


def test_the_served_action_catalog_validates_against_pagerdutys_schema(served: Served
                                                                       ) -> None:
    cursor: str | None = None
    ids: list[str] = []
    while True:
        response = served.http.get("/api/incident_workflows/actions", params={
            "limit": 40, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        pagerduty_schemas.validate(page, pagerduty_schemas.ACTIONS_RESPONSE)
        ids += [action["id"] for action in page["actions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(ids) == len(set(ids)) and STATUS_UPDATE in ids and ADD_NOTE in ids
    one = served.http.get(f"/api/incident_workflows/actions/{STATUS_UPDATE}")
    assert one.status_code == 200, one.text
    pagerduty_schemas.validate(one.json(), pagerduty_schemas.ACTION_RESPONSE)
