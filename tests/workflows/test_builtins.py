"""Built-in actions change the run's incident through the incidents lifecycle: the same log
entries and outbox events as a person's change, tagged with the workflow as their origin."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from fireline.core.db import Database
from fireline.incidents.models import LogEntry, OutboxEvent
from fireline.workflows.engine import Engine
from tests.conftest import Actor
from tests.workflows.conftest import incident, run_detail, save_workflow, start


async def test_add_responders_adds_the_users_to_the_incident_as_a_responder_request(
    client: httpx.AsyncClient, make_actor, db: Database, engine: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    first: Actor = await make_actor("responder")
    second: Actor = await make_actor("responder")
    saved = await save_workflow(client, admin, {"name": "Get help", "steps": [
        {"id": "help", "action": "fireline.add_responders",
         "with": {"users": [first.user.id, second.user.email.upper()],
                  "message": "Please join: {{ incident.title }}"}},
        {"id": "again", "action": "fireline.add_responders",
         "with": {"users": [second.user.id]}},
    ]})
    assert saved.status_code == 201, saved.text
    workflow_id = saved.json()["incident_workflow"]["id"]
    found = await incident(client, admin, title="DB down")
    started = await start(client, admin, workflow_id, found["id"])
    await engine.drain()

    run = await run_detail(client, admin, started.json()["incident_workflow_instance"]["id"])
    assert run["status"] == "succeeded", run
    outputs = {step["id"]: step["output"] for step in run["steps"]}
    assert outputs["help"] == {"incident_id": found["id"],
                               "responders": [first.user.id, second.user.id],
                               "added": [first.user.id, second.user.id]}
    assert outputs["again"]["added"] == []  # already there
    got = (await client.get(f"/api/incidents/{found['id']}", headers=admin.headers)).json()
    assert {a["assignee"]["id"] for a in got["incident"]["assignments"]} >= {
        first.user.id, second.user.id}
    async with db.session() as session:
        entries = list(await session.scalars(select(LogEntry).where(
            LogEntry.incident_id == found["id"],
            LogEntry.type == "responder_request_log_entry").order_by(LogEntry.created_at)))
        events = list(await session.scalars(select(OutboxEvent).where(
            OutboxEvent.kind == "incident.responders_added").order_by(OutboxEvent.id)))
    assert [entry.details["message"] for entry in entries] == [
        "Please join: DB down", 'Please help with "DB down"']
    assert entries[0].agent["type"] == "incident_workflow_reference"
    assert entries[0].details["requester"]["id"] == admin.user.id  # who started the run
    assert [event.payload["origin"]["workflow_id"] for event in events] == [workflow_id] * 2


async def test_add_responders_with_an_unknown_user_fails_its_step_and_changes_nothing(
    client: httpx.AsyncClient, make_actor, engine: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    saved = await save_workflow(client, admin, {"name": "Bad help", "steps": [
        {"id": "help", "action": "fireline.add_responders",
         "with": {"users": [admin.user.id, "nobody@example.com"]}}]})
    found = await incident(client, admin)
    started = await start(client, admin, saved.json()["incident_workflow"]["id"], found["id"])
    await engine.drain()
    run = await run_detail(client, admin, started.json()["incident_workflow_instance"]["id"])
    assert run["status"] == "failed"
    assert "nobody@example.com" in run["steps"][0]["error"]
    got = (await client.get(f"/api/incidents/{found['id']}", headers=admin.headers)).json()
    assert admin.user.id not in {a["assignee"]["id"] for a in got["incident"]["assignments"]}
