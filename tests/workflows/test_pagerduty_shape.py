"""Workflows written and read in PagerDuty's REST shape (`workflows.pagerduty_shape`): its own
request example is accepted and runs, reads answer in either shape, a PUT keeps what
PagerDuty's shape cannot say, what we answer can be sent back unchanged, and a bad step is a
400 that names the step and the input."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from fireline.core.errors import InvalidInputError
from fireline.workflows import definitions, pagerduty_shape
from fireline.workflows.engine import Engine
from tests.conftest import Actor
from tests.incidents.helpers import writer_headers
from tests.workflows import pagerduty_schemas
from tests.workflows.conftest import WORKFLOWS, incident, run_detail, save_workflow, start

STATUS_UPDATE = "pagerduty.com:incident-workflows:send-status-update:1"
ADD_NOTE = "pagerduty.com:incident-workflows:add-notes-to-incident:1"
LOOP_UNTIL = "pagerduty.com:logic:incident-workflows-loop-until:3"
CONDITION = "fireline.dev:fireline:condition:1"
DELAY = "pagerduty.com:incident-workflows:delay:1"
PD_ACCEPT = "application/vnd.pagerduty+json;version=2"

# PagerDuty's request example for POST /incident_workflows (its REST schema, paths →
# /incident_workflows → post → requestBody → examples → request), as it is: it names no id
# that would have to exist here.
PAGERDUTY_EXAMPLE: dict[str, Any] = {"incident_workflow": {
    "name": "Example Incident Workflow",
    "description": "This Incident Workflow is an example",
    "steps": [{
        "name": "Send Status Update",
        "action_configuration": {
            "action_id": STATUS_UPDATE,
            "inputs": [{"name": "Message",
                        "value": "Example status message sent on {{current_date}}"}],
        },
    }],
}}


def pd_step(name: str, action_id: str, inputs: dict[str, Any] | None = None,
            **inline: list[dict[str, Any]]) -> dict[str, Any]:
    configuration: dict[str, Any] = {
        "action_id": action_id,
        "inputs": [{"name": key, "value": value} for key, value in (inputs or {}).items()]}
    if inline:
        configuration["inline_steps_inputs"] = [
            {"name": key, "value": {"steps": steps}} for key, steps in inline.items()]
    return {"name": name, "action_configuration": configuration}


def pd_workflow(name: str, *steps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"incident_workflow": {"name": name, "description": f"{name} (PagerDuty's shape)",
                                  "steps": list(steps), **fields}}


def comms_workflow(name: str = "Comms") -> dict[str, Any]:
    return pd_workflow(
        name,
        pd_step("Send Status Update", STATUS_UPDATE, {
            "Message": "Investigating {{ incident.title }}", "Subject": "Checkout"}),
        pd_step("Add a note", ADD_NOTE, {"content": "Status update sent for #"
                                         "{{ incident.incident_number }}"}))


async def post(client: httpx.AsyncClient, actor: Actor, body: dict[str, Any],
               **params: str) -> httpx.Response:
    return await client.post(WORKFLOWS, json=body, params=params, headers=actor.headers)


async def read(client: httpx.AsyncClient, actor: Actor, workflow_id: str,
               accept: str | None = None, **params: str) -> dict[str, Any]:
    headers = {**actor.headers, **({"Accept": accept} if accept else {})}
    response = await client.get(f"{WORKFLOWS}/{workflow_id}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def definition_of(ours: dict[str, Any]) -> dict[str, Any]:
    """A read in our shape without what changes on each save."""
    changing = {"version", "updated_at", "updated_by"}
    return {key: value for key, value in ours["incident_workflow"].items()
            if key not in changing}


async def notes(client: httpx.AsyncClient, actor: Actor, incident_id: str) -> list[str]:
    response = await client.get(f"/api/incidents/{incident_id}/notes",
                                headers=writer_headers(actor))
    assert response.status_code == 200, response.text
    return [note["content"] for note in response.json()["notes"]]


def errors_of(response: httpx.Response) -> list[str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"]["code"] == 2001 and body["error"]["message"]
    return body["error"]["errors"]  # type: ignore[no-any-return]


# --- PagerDuty's own example ---------------------------------------------------------------

async def test_pagerdutys_request_example_is_accepted_and_answered_in_its_shape(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    created = await post(client, admin, PAGERDUTY_EXAMPLE)
    assert created.status_code == 201, created.text
    body = created.json()
    pagerduty_schemas.validate(body, pagerduty_schemas.WORKFLOW_RESPONSE)
    workflow = body["incident_workflow"]
    assert (workflow["type"], workflow["name"], workflow["description"], workflow["is_enabled"]
            ) == ("incident_workflow", "Example Incident Workflow",
                  "This Incident Workflow is an example", True)
    [step] = workflow["steps"]
    configuration = step["action_configuration"]
    assert step["type"] == "step" and configuration["action_id"] == STATUS_UPDATE
    assert [(item["name"], item["parameter_type"], item["value"])
            for item in configuration["inputs"]] == [
        ("Message", "text", "Example status message sent on {{current_date}}")]
    assert {item["reference_name"] for item in configuration["outputs"]} == {
        "status_update_id", "notified_count"}

    ours = (await read(client, admin, workflow["id"], format="fireline"))["incident_workflow"]
    assert ours["trigger"] == {"type": "manual"} and ours["version"] == 1
    assert [(s["id"], s["action"], s["with"]) for s in ours["steps"]] == [
        ("send_status_update", "fireline.send_status_update",
         {"message": "Example status message sent on {{current_date}}"})]


async def test_reads_answer_in_the_shape_asked_by_query_or_accept(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    workflow_id = (await post(client, admin, PAGERDUTY_EXAMPLE)).json()["incident_workflow"]["id"]
    pagerduty = await read(client, admin, workflow_id, format="pagerduty")
    pagerduty_schemas.validate(pagerduty, pagerduty_schemas.WORKFLOW_RESPONSE)
    assert "action_configuration" in pagerduty["incident_workflow"]["steps"][0]
    by_accept = await read(client, admin, workflow_id, accept=f"{PD_ACCEPT};format=pagerduty")
    assert by_accept == pagerduty
    ours = await read(client, admin, workflow_id)
    assert ours["incident_workflow"]["steps"][0]["action"] == "fireline.send_status_update"
    assert await read(client, admin, workflow_id, accept=PD_ACCEPT) == ours
    assert await read(client, admin, workflow_id, format="fireline") == ours
    # The query parameter wins over Accept.
    assert await read(client, admin, workflow_id, accept=f"{PD_ACCEPT};format=pagerduty",
                      format="fireline") == ours
    # A POST in PagerDuty's shape may ask for our shape back, and a list for PagerDuty's.
    again = await post(client, admin, {"incident_workflow": {
        **PAGERDUTY_EXAMPLE["incident_workflow"], "name": "Again"}}, format="fireline")
    assert again.status_code == 201 and "trigger" in again.json()["incident_workflow"]
    listed = await client.get(WORKFLOWS, params={"format": "pagerduty", "include[]": "steps"},
                              headers=admin.headers)
    for item in listed.json()["incident_workflows"]:
        pagerduty_schemas.validate({"incident_workflow": item},
                                   pagerduty_schemas.WORKFLOW_RESPONSE)
        assert item["steps"][0]["action_configuration"]["action_id"] == STATUS_UPDATE
    bad = await client.get(f"{WORKFLOWS}/{workflow_id}", headers={
        **admin.headers, "Accept": f"{PD_ACCEPT};format=yaml"})
    assert errors_of(bad) == ["Accept: format is fireline or pagerduty, not 'yaml'"]


async def test_pagerdutys_request_example_runs_on_an_incident(
    client: httpx.AsyncClient, make_actor, engine: Engine
) -> None:
    admin: Actor = await make_actor("admin")
    workflow_id = (await post(client, admin, PAGERDUTY_EXAMPLE)).json()["incident_workflow"]["id"]
    found = await incident(client, admin, title="Checkout down")
    started = await start(client, admin, workflow_id, found["id"])
    assert started.status_code == 201, started.text
    await engine.drain()
    run = await run_detail(client, admin, started.json()["incident_workflow_instance"]["id"])
    assert run["status"] == "succeeded", run["error"]


async def test_a_workflow_in_pagerdutys_shape_runs_and_does_what_its_steps_say(
    client: httpx.AsyncClient, make_actor, engine: Engine
) -> None:
    admin: Actor = await make_actor("admin")
    created = await post(client, admin, comms_workflow())
    assert created.status_code == 201, created.text
    found = await incident(client, admin, title="Checkout down")
    started = await start(client, admin, created.json()["incident_workflow"]["id"], found["id"])
    assert started.status_code == 201, started.text
    await engine.drain()

    run = await run_detail(client, admin, started.json()["incident_workflow_instance"]["id"])
    assert run["status"] == "succeeded", run
    assert [(step["id"], step["status"]) for step in run["steps"]] == [
        ("send_status_update", "succeeded"), ("add_a_note", "succeeded")]
    updates = (await client.get(f"/api/incidents/{found['id']}/status_updates",
                                headers=admin.headers)).json()["status_updates"]
    assert [(item["message"], item["subject"]) for item in updates] == [
        ("Investigating Checkout down", "Checkout")]
    assert await notes(client, admin, found["id"]) == [
        f"Status update sent for #{found['incident_number']}"]


# --- PUT ---------------------------------------------------------------------------------------

async def test_put_in_pagerdutys_shape_keeps_the_trigger_and_kept_steps_retry_and_timeout(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    trigger = {"type": "conditional", "on": ["incident.acknowledged"],
               "condition": "incident.urgency == 'high'"}
    saved = await save_workflow(client, admin, {
        "name": "Tuned", "description": "ours", "trigger": trigger, "timeout_seconds": 600,
        "steps": [
            {"id": "update", "action": "fireline.send_status_update",
             "with": {"message": "v1"}, "timeout_seconds": 30,
             "retry": {"max_attempts": 5, "backoff": 1.5}},
            {"id": "note", "action": "fireline.add_note", "with": {"content": "v1"},
             "timeout_seconds": 20, "retry": {"max_attempts": 1, "backoff": 0}},
            {"id": "swap", "action": "fireline.add_note", "with": {"content": "v1"},
             "timeout_seconds": 10, "retry": {"max_attempts": 2, "backoff": 0}},
        ]})
    assert saved.status_code == 201, saved.text
    workflow_id = saved.json()["incident_workflow"]["id"]
    before = (await read(client, admin, workflow_id))["incident_workflow"]

    pagerduty = (await read(client, admin, workflow_id, format="pagerduty"))["incident_workflow"]
    update, note, swap = pagerduty["steps"]
    update["action_configuration"]["inputs"] = [{"name": "Message", "value": "v2"}]
    # The same id with another action is another step: it starts from the defaults.
    swap["action_configuration"] = {"action_id": STATUS_UPDATE,
                                    "inputs": [{"name": "Message", "value": "swapped"}]}
    added = {**pd_step("Added later", ADD_NOTE, {"content": "new"})}
    replaced = await client.put(f"{WORKFLOWS}/{workflow_id}", headers=admin.headers, json={
        "incident_workflow": {"name": "Tuned", "steps": [note, update, swap, added]}})
    assert replaced.status_code == 200, replaced.text
    pagerduty_schemas.validate(replaced.json(), pagerduty_schemas.WORKFLOW_RESPONSE)

    after = (await read(client, admin, workflow_id))["incident_workflow"]
    assert after["version"] == 2
    assert after["trigger"] == before["trigger"]
    assert (after["timeout_seconds"], after["run_permission"], after["description"]) == (
        600, before["run_permission"], "ours")  # no description given: kept
    steps = {step["id"]: step for step in after["steps"]}
    assert list(steps) == ["note", "update", "swap", "added_later"]  # PagerDuty's order
    assert (steps["update"]["with"], steps["update"]["timeout_seconds"],
            steps["update"]["retry"]) == ({"message": "v2"}, 30,
                                          {"max_attempts": 5, "backoff": 1.5})
    assert (steps["note"]["timeout_seconds"], steps["note"]["retry"]) == (
        20, {"max_attempts": 1, "backoff": 0.0})
    default_step = definitions.Step(id="x", action="fireline.noop")
    for fresh in ("swap", "added_later"):
        assert (steps[fresh]["timeout_seconds"], steps[fresh]["retry"]) == (
            default_step.timeout_seconds, default_step.retry.model_dump()), fresh
    assert steps["swap"]["action"] == "fireline.send_status_update"


async def test_what_we_answer_can_be_put_back_unchanged_in_either_shape(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    saved = await save_workflow(client, admin, {
        "name": "Round trip", "description": "both shapes",
        "trigger": {"type": "conditional", "on": ["incident.triggered"]},
        "timeout_seconds": 900,
        "steps": [
            {"id": "update", "action": "fireline.send_status_update",
             "with": {"message": "On it: {{ incident.title }}", "subject": "Status"},
             "retry": {"max_attempts": 4, "backoff": 3}},
            {"id": "wait", "action": "fireline.wait_for_status",
             "with": {"status": "acknowledged", "timeout_seconds": 120, "poll_seconds": 5}},
            {"id": "bridge", "action": "fireline.add_conference_bridge",
             "with": {"conference_url": "https://meet.example/{{ incident.id }}"},
             "timeout_seconds": 15},
            {"id": "check", "action": "fireline.condition",
             "with": {"expression": "incident.urgency == 'high'"},
             "then": [{"id": "loud", "action": "fireline.add_note",
                       "with": {"content": "high"}}],
             "else": [{"id": "quiet", "action": "fireline.add_note",
                       "with": {"content": "low"}}]},
        ]})
    assert saved.status_code == 201, saved.text
    workflow_id = saved.json()["incident_workflow"]["id"]
    url = f"{WORKFLOWS}/{workflow_id}"
    original = await read(client, admin, workflow_id)

    # Ours, as read (ids, self, version, is_enabled and all).
    put_ours = await client.put(url, json=original, headers=admin.headers)
    assert put_ours.status_code == 200, put_ours.text
    after_ours = await read(client, admin, workflow_id)
    assert after_ours["incident_workflow"]["version"] == 2
    assert definition_of(after_ours) == definition_of(original)

    # PagerDuty's, as read.
    pagerduty = await read(client, admin, workflow_id, format="pagerduty")
    put_pagerduty = await client.put(url, json=pagerduty, headers=admin.headers)
    assert put_pagerduty.status_code == 200, put_pagerduty.text
    assert put_pagerduty.json() == {"incident_workflow": {
        **pagerduty["incident_workflow"]}}  # answered in the shape given, the same
    after_pagerduty = await read(client, admin, workflow_id)
    assert after_pagerduty["incident_workflow"]["version"] == 3
    assert definition_of(after_pagerduty) == definition_of(original)


# --- errors --------------------------------------------------------------------------------

async def test_a_bad_step_is_a_400_naming_the_step_and_the_input(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    cases: dict[str, tuple[dict[str, Any], list[str]]] = {
        "unknown action": (
            pd_workflow("A", pd_step("Tell them", STATUS_UPDATE, {"Message": "hi"}),
                        pd_step("Page the CEO", "pagerduty.com:incident-workflows:page-ceo:1")),
            ["steps[1] 'Page the CEO': action_id 'pagerduty.com:incident-workflows:page-ceo:1'"
             ": no such action (GET /api/incident_workflows/actions lists them)"]),
        "unknown input": (
            pd_workflow("B", pd_step("Tell them", STATUS_UPDATE,
                                     {"Message": "hi", "Audience": "everyone"})),
            ["steps[0] 'Tell them': input 'Audience': Send a status update has no such input "
             "(its inputs: 'Message', 'Subject')"]),
        "bad integer": (
            pd_workflow("C", pd_step("Wait", DELAY, {"Seconds": "ten"})),
            ["steps[0] 'Wait': input 'Seconds': expected an integer, got 'ten'"]),
        "bad integer, nested": (
            pd_workflow("D", pd_step("Poll", LOOP_UNTIL,
                                     {"Condition": "true", "Maximum loops": "3.5"},
                                     Actions=[pd_step("Nap", DELAY, {"Seconds": "1e3"})])),
            ["steps[0] 'Poll': input 'Maximum loops': expected an integer, got '3.5'",
             "steps[0].Actions[0] 'Nap': input 'Seconds': expected an integer, got '1e3'"]),
        "out of range": (
            pd_workflow("E", pd_step("Wait", DELAY, {"Seconds": "0"})),
            ["steps[0] 'Wait': input 'Seconds': Input should be greater than or equal to 1"]),
        "team": (
            pd_workflow("F", pd_step("Tell them", STATUS_UPDATE, {"Message": "hi"}),
                        team={"id": "PTEAM01", "type": "team_reference"}),
            ["team: Fireline has no team-scoped edit permission for workflows (global "
             "managers and team managers edit every workflow); leave `team` out, and use "
             "`run_permission` in our shape for who may run it"]),
    }
    for name, (body, expected) in cases.items():
        assert errors_of(await post(client, admin, body)) == expected, name
    # Every problem at once.
    everything = pd_workflow(
        "G", pd_step("One", STATUS_UPDATE, {"Audience": "x"}),
        pd_step("Two", DELAY, {"Seconds": "soon"}), pd_step("Three", "nope:nope:nope:1"),
        team={"id": "PTEAM01"})
    found = errors_of(await post(client, admin, everything))
    assert found[0].startswith("team: ")
    assert [error.split(":")[0] for error in found[1:]] == [
        "steps[0] 'One'", "steps[0] 'One'", "steps[1] 'Two'", "steps[2] 'Three'"]
    assert "input 'Message': Field required" in found[2]
    # Nothing was saved.
    listed = (await client.get(WORKFLOWS, headers=admin.headers)).json()
    assert listed["incident_workflows"] == []


async def test_a_put_that_fails_keeps_the_workflow(client: httpx.AsyncClient, make_actor
                                                    ) -> None:
    admin: Actor = await make_actor("admin")
    workflow_id = (await post(client, admin, comms_workflow())).json()["incident_workflow"]["id"]
    before = await read(client, admin, workflow_id)
    refused = await client.put(f"{WORKFLOWS}/{workflow_id}", headers=admin.headers,
                               json=pd_workflow("Comms", pd_step("Wait", DELAY,
                                                                 {"Seconds": "x"})))
    assert errors_of(refused) == ["steps[0] 'Wait': input 'Seconds': expected an integer, "
                                  "got 'x'"]
    assert await read(client, admin, workflow_id) == before
    extra = await client.put(f"{WORKFLOWS}/{workflow_id}", headers=admin.headers,
                             json={**comms_workflow(), "dry_run": True})
    assert errors_of(extra) == ["dry_run: Extra inputs are not permitted"]


# --- logic blocks --------------------------------------------------------------------------

async def test_a_condition_and_a_loop_round_trip_through_inline_steps_inputs(
    client: httpx.AsyncClient, make_actor, engine: Engine
) -> None:
    admin: Actor = await make_actor("admin")
    body = pd_workflow(
        "Blocks",
        pd_step("Is it the database", CONDITION, {"Expression": "'database' in incident.title"},
                then=[pd_step("Page the DBA", ADD_NOTE, {"content": "dba"})],
                **{"else": [pd_step("Page SRE", ADD_NOTE, {"content": "sre"})]}),
        pd_step("Poll", LOOP_UNTIL, {"Condition": "steps.read.output.notes | length >= 3",
                                     "Maximum loops": "4", "Delay between loops": "0"},
                Actions=[pd_step("Ping", ADD_NOTE, {"content": "ping"}),
                         {"id": "read", **pd_step("Read the notes",
                                                  "fireline.dev:fireline:get-notes:1")}]),
        pd_step("Done", ADD_NOTE, {"content": "done"}))
    created = await post(client, admin, body)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["incident_workflow"]["id"]

    ours = (await read(client, admin, workflow_id))["incident_workflow"]
    check, poll, done = ours["steps"]
    assert (check["action"], check["with"]) == (
        "fireline.condition", {"expression": "'database' in incident.title"})
    assert [s["id"] for s in check["then"]] == ["page_the_dba"]
    assert [s["id"] for s in check["else"]] == ["page_sre"]
    assert (poll["action"], poll["with"]) == ("fireline.loop_until", {
        "expression": "steps.read.output.notes | length >= 3", "max_iterations": 4,
        "interval_seconds": 0})
    assert [s["id"] for s in poll["steps"]] == ["ping", "read"]  # a given valid id is kept
    assert done["id"] == "done"

    pagerduty = (await read(client, admin, workflow_id, format="pagerduty"))["incident_workflow"]
    pagerduty_schemas.validate({"incident_workflow": pagerduty},
                               pagerduty_schemas.WORKFLOW_RESPONSE)
    inline = {step["id"]: {item["name"]: [inner["id"] for inner in item["value"]["steps"]]
                           for item in step["action_configuration"].get("inline_steps_inputs",
                                                                        [])}
              for step in pagerduty["steps"]}
    assert inline == {"is_it_the_database": {"then": ["page_the_dba"], "else": ["page_sre"]},
                      "poll": {"Actions": ["ping", "read"]}, "done": {}}
    loop_inputs = {item["name"]: item["value"]
                   for item in pagerduty["steps"][1]["action_configuration"]["inputs"]}
    assert loop_inputs == {"Condition": "steps.read.output.notes | length >= 3",
                           "Maximum loops": "4", "Delay between loops": "0"}
    # Sent back as read, the definition is the same.
    put = await client.put(f"{WORKFLOWS}/{workflow_id}", headers=admin.headers,
                           json={"incident_workflow": pagerduty})
    assert put.status_code == 200, put.text
    assert definition_of(await read(client, admin, workflow_id)) == definition_of(
        {"incident_workflow": ours})

    found = await incident(client, admin, title="database is slow")
    started = await start(client, admin, workflow_id, found["id"])
    await engine.drain()
    run = await run_detail(client, admin, started.json()["incident_workflow_instance"]["id"])
    assert run["status"] == "succeeded", run
    assert {s["id"]: s["status"] for s in run["steps"]}["page_sre"] == "not_taken"
    assert await notes(client, admin, found["id"]) == ["dba", "ping", "ping", "done"]


async def test_inline_steps_only_where_the_action_takes_them(client: httpx.AsyncClient,
                                                             make_actor) -> None:
    admin: Actor = await make_actor("admin")
    not_logic = pd_workflow("H", pd_step("Note", ADD_NOTE, {"content": "x"},
                                         then=[pd_step("Inner", ADD_NOTE, {"content": "y"})]))
    assert errors_of(await post(client, admin, not_logic)) == [
        "steps[0] 'Note': inline_steps_inputs 'then': Add a note takes no such inline steps "
        "(none)"]
    wrong_name = pd_workflow("I", pd_step(
        "Poll", LOOP_UNTIL, {"Condition": "true"},
        then=[pd_step("Inner", ADD_NOTE, {"content": "y"})]))
    assert errors_of(await post(client, admin, wrong_name)) == [
        "steps[0] 'Poll': inline_steps_inputs 'then': Loop until takes no such inline steps "
        "('Actions')"]


# --- the conversion itself ---------------------------------------------------------------------

def test_another_version_of_a_known_action_converts_to_the_same_step() -> None:
    body = copy.deepcopy(PAGERDUTY_EXAMPLE["incident_workflow"])
    body["steps"][0]["action_configuration"]["action_id"] = (
        "pagerduty.com:incident-workflows:send-status-update:5")
    converted = pagerduty_shape.to_definition(body)
    assert converted["steps"] == [{
        "id": "send_status_update", "action": "fireline.send_status_update",
        "with": {"message": "Example status message sent on {{current_date}}"}}]
    definitions.parse(converted)  # a valid definition of ours


def test_step_ids_come_from_names_and_are_unique() -> None:
    taken: set[str] = set()
    made = [pagerduty_shape.step_id_for(name, taken) for name in (
        "Send Status Update", "Send status update", "Send-Status  Update!", "Ünïcode café",
        "42 things", "", "x" * 100)]
    for item in made:
        taken.add(item)
    assert made[:6] == ["send_status_update", "send_status_update", "send_status_update",
                        "unicode_cafe", "step_42_things", "step"]
    taken = set()
    unique = []
    for name in ("Note", "note", "NOTE!", "x" * 100, "x" * 100):
        unique.append(pagerduty_shape.step_id_for(name, taken))
        taken.add(unique[-1])
    assert unique[:3] == ["note", "note_2", "note_3"]
    assert len(set(unique)) == 5 and all(len(item) <= 64 for item in unique)


def test_values_are_converted_to_the_inputs_types() -> None:
    converted = pagerduty_shape.to_definition(pd_workflow(
        "Typed",
        pd_step("Wait", "fireline.dev:fireline:wait-for-status:1",
                {"Status": "resolved", "Timeout (seconds)": " 300 ",
                 "Check every (seconds)": "{{ 2 + 3 }}"}),  # templated: checked when rendered
        pd_step("Tell", "pagerduty.com:incident-workflows:add-stakeholders:2",
                {"Users": '["a@example.com"]', "Teams": "[]"}),
        pd_step("Loop", LOOP_UNTIL, {"Condition": "true", "Maximum loops": 2},  # typed already
                Actions=[pd_step("Nap", DELAY, {"Seconds": "1"})]),
    )["incident_workflow"])
    wait, tell, loop = converted["steps"]
    assert wait["with"] == {"status": "resolved", "timeout_seconds": 300,
                            "poll_seconds": "{{ 2 + 3 }}"}
    assert tell["with"] == {"users": ["a@example.com"], "teams": []}
    assert loop["with"] == {"expression": "true", "max_iterations": 2}
    definitions.parse(converted)


def test_a_tool_steps_connection_input_names_the_connection() -> None:
    converted = pagerduty_shape.to_definition(pd_workflow(
        "Search",
        pd_step("Logs", "fireline.dev:elasticsearch:search-logs:1",
                {"Connection": "PCONN01", "index_pattern": "logs-*", "query_type": "kql",
                 "query": "level:error"}),
        pd_step("Default", "fireline.dev:elasticsearch:search-logs:1",
                {"index_pattern": "logs-*", "query_type": "kql", "query": "*"}),
    )["incident_workflow"])
    assert [(step["connection"], step["with"]["query_type"]) for step in converted["steps"]
            ] == [("PCONN01", "kql"), ("default", "kql")]
    with pytest.raises(InvalidInputError) as refused:
        pagerduty_shape.to_definition(pd_workflow("Bad", pd_step(
            "Logs", "fireline.dev:elasticsearch:search-logs:1",
            {"Connection": 7, "index_pattern": "logs-*", "query_type": "sql",
             "query": "x"}))["incident_workflow"])
    assert refused.value.errors[0] == "steps[0] 'Logs': input 'Connection': a connection's id"
    assert "input 'query_type'" in refused.value.errors[1]


def test_a_given_step_id_is_kept_even_when_an_earlier_steps_name_would_make_it() -> None:
    previous = definitions.parse({"name": "Kept", "steps": [
        {"id": "note", "action": "fireline.add_note", "with": {"content": "old"},
         "timeout_seconds": 5, "retry": {"max_attempts": 1, "backoff": 0}},
        {"id": "later", "action": "fireline.add_note",
         "with": {"content": "{{ steps.note.output.note_id }}"}}]})
    # A new step named "Note" put before the step whose id is `note`: the new one is the
    # one renamed, and `note` (what `later` refers to) keeps its retry and timeout.
    converted = pagerduty_shape.to_definition(pd_workflow(
        "Kept",
        pd_step("Note", ADD_NOTE, {"content": "new"}),
        {"id": "note", **pd_step("Note", ADD_NOTE, {"content": "old"})},
        {"id": "later", **pd_step("Later", ADD_NOTE,
                                  {"content": "{{ steps.note.output.note_id }}"})},
    )["incident_workflow"], previous=previous)
    steps = converted["steps"]
    assert [(step["id"], step["with"]["content"]) for step in steps] == [
        ("note_2", "new"), ("note", "old"), ("later", "{{ steps.note.output.note_id }}")]
    assert "retry" not in steps[0]
    assert (steps[1]["timeout_seconds"], steps[1]["retry"]) == (
        5, {"max_attempts": 1, "backoff": 0.0})
    # Also when the clash is with a nested step's id.
    nested = pagerduty_shape.to_definition(pd_workflow(
        "Nested",
        pd_step("Ping", ADD_NOTE, {"content": "first"}),
        pd_step("Poll", LOOP_UNTIL, {"Condition": "true"},
                Actions=[{"id": "ping", **pd_step("Ping", ADD_NOTE, {"content": "inner"})}]),
    )["incident_workflow"])
    assert [nested["steps"][0]["id"], nested["steps"][1]["steps"][0]["id"]] == ["ping_2", "ping"]


def test_json_inputs_holding_text_keep_it_text_both_ways() -> None:
    # An input that takes any JSON value (the Web API request's JSON body: a string is sent
    # as a JSON string) may hold text that reads as JSON: PagerDuty's shape carries such text
    # as a JSON string, so it comes back text, not a number or an object.
    previous = definitions.parse({"name": "Bodies", "steps": [
        {"id": f"post_{index}", "action": "web_api.http_request", "connection": "PCONN01",
         "with": {"method": "POST", "url": "https://hooks.example/x", "json_body": body}}
        for index, body in enumerate(
            ["123", '{"a": 1}', "plain text", {"a": 1}, [1, "2"], 7, True, "null",
             "{{ incident.id }}", '"{{ incident.id }}"'])]})
    read = pagerduty_shape.pd_step(previous.steps[0])
    assert {item["name"]: item["value"] for item in read["action_configuration"]["inputs"]
            }["JSON Body"] == '"123"'
    body = {"name": "Bodies", "steps": [pagerduty_shape.pd_step(step)
                                        for step in previous.steps]}
    converted = pagerduty_shape.to_definition(body, previous=previous)
    assert [step["with"] for step in converted["steps"]] == [
        step.with_ for step in previous.steps]
    # What a PagerDuty client writes by hand still means what it says.
    typed = pagerduty_shape.to_definition(pd_workflow("Typed", pd_step(
        "Post", "fireline.dev:web_api:http-request:1",
        {"method": "POST", "url": "https://hooks.example/x",
         "JSON Body": '{"a": [1, 2]}'}))["incident_workflow"])
    assert typed["steps"][0]["with"]["json_body"] == {"a": [1, 2]}
