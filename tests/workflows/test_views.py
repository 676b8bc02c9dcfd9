from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from fireline.accounts import service as accounts
from fireline.core.audit import AuditEvent
from fireline.core.db import Database
from fireline.workflows.engine import Engine
from tests.conftest import Actor
from tests.incidents.helpers import writer_headers
from tests.workflows.conftest import (
    ES_CONNECTIONS,
    WORKFLOWS,
    es_connection,
    incident,
    run_detail,
    save_workflow,
    start,
)


def note_workflow(name: str = "Note it", content: str = "seen {{ incident.title }}",
                  **fields: Any) -> dict[str, Any]:
    return {"name": name, "description": "adds a note",
            "steps": [{"id": "note", "action": "fireline.add_note",
                       "with": {"content": content}}], **fields}


def search_workflow(connection: str, name: str = "Search") -> dict[str, Any]:
    return {"name": name, "steps": [
        {"id": "logs", "action": "elasticsearch.search_logs", "connection": connection,
         "with": {"index_pattern": "logs-*", "query_type": "kql", "query": "level:error"}}]}


async def notes(client: httpx.AsyncClient, actor: Actor, incident_id: str) -> list[str]:
    response = await client.get(f"/api/incidents/{incident_id}/notes",
                                headers=writer_headers(actor))
    return [note["content"] for note in response.json()["notes"]]


async def test_create_read_replace_list_and_delete(client: httpx.AsyncClient, make_actor
                                                   ) -> None:
    admin: Actor = await make_actor("admin")
    created = await save_workflow(client, admin, note_workflow())
    assert created.status_code == 201, created.text
    body = created.json()["incident_workflow"]
    assert body["type"] == "incident_workflow" and body["version"] == 1
    assert body["self"].endswith(f"/api/incident_workflows/{body['id']}")
    assert body["steps"][0]["with"] == {"content": "seen {{ incident.title }}"}
    assert body["trigger"] == {"type": "manual"}
    assert body["created_by"]["id"] == admin.user.id

    url = f"{WORKFLOWS}/{body['id']}"
    replaced = await client.put(url, headers=admin.headers, json={
        "incident_workflow": note_workflow(content="v2")})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["incident_workflow"]["version"] == 2
    listed = (await client.get(WORKFLOWS, headers=admin.headers)).json()
    assert [w["name"] for w in listed["incident_workflows"]] == ["Note it"]
    assert (await save_workflow(client, admin, note_workflow())).status_code == 409
    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    assert (await client.get(url, headers=admin.headers)).status_code == 404


async def test_invalid_definitions_are_400_listing_every_problem(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    response = await save_workflow(client, admin, {"name": "Bad", "steps": [
        {"id": "a", "action": "nope.x"},
        {"id": "b", "action": "fireline.add_note", "with": {"text": "x"}}]})
    assert response.status_code == 400
    errors = response.json()["error"]["errors"]
    assert any("unknown action 'nope.x'" in e for e in errors)
    assert any("steps.b.with.text" in e for e in errors)
    unknown_service = await save_workflow(client, admin, note_workflow(trigger={
        "type": "conditional", "on": ["incident.triggered"], "services": ["PNOSUCHSERVICE"]}))
    assert unknown_service.status_code == 400
    assert unknown_service.json()["error"]["errors"] == [
        "trigger.services: no service 'PNOSUCHSERVICE'"]


async def test_only_managers_and_admins_save_workflows(
    client: httpx.AsyncClient, make_actor
) -> None:
    for role in ("responder", "observer", "restricted"):
        actor: Actor = await make_actor(role)
        response = await save_workflow(client, actor, note_workflow(name=role))
        assert response.status_code == 403, role
    manager: Actor = await make_actor("manager")
    assert (await save_workflow(client, manager, note_workflow())).status_code == 201


async def test_triggers_list_conditional_and_manual(client: httpx.AsyncClient, make_actor
                                                    ) -> None:
    admin: Actor = await make_actor("admin")
    await save_workflow(client, admin, note_workflow(name="Manual"))
    await save_workflow(client, admin, note_workflow(name="On P1", trigger={
        "type": "conditional", "on": ["incident.priority_changed"],
        "condition": "incident.priority == 'P1'"}))
    triggers = (await client.get(f"{WORKFLOWS}/triggers", headers=admin.headers)).json()
    by_name = {t["workflow"]["summary"]: t for t in triggers["triggers"]}
    assert by_name["Manual"]["trigger_type"] == "manual"
    assert by_name["On P1"]["trigger_type"] == "conditional"
    assert by_name["On P1"]["event_types"] == ["incident.priority_changed"]
    assert by_name["On P1"]["is_subscribed_to_all_services"] is True


async def test_manual_run_adds_a_note_and_keeps_its_version(
    client: httpx.AsyncClient, make_actor, engine: Engine
) -> None:
    admin: Actor = await make_actor("admin")
    responder: Actor = await make_actor("responder")
    workflow = (await save_workflow(client, admin, note_workflow())).json()["incident_workflow"]
    found = await incident(client, admin, title="API slow")
    started = await start(client, responder, workflow["id"], found["id"])
    assert started.status_code == 201, started.text
    instance = started.json()["incident_workflow_instance"]
    assert instance["type"] == "incident_workflow_instance"
    assert instance["incident"]["id"] == found["id"]
    # A new version saved before the run executes does not change the run.
    await client.put(f"{WORKFLOWS}/{workflow['id']}", headers=admin.headers,
                     json={"incident_workflow": note_workflow(content="v2")})
    await engine.drain()

    run = await run_detail(client, admin, instance["id"])
    assert run["status"] == "succeeded" and run["version"] == 1
    step = run["steps"][0]
    assert step["attempts"] == 1 and step["inputs"] == {"content": "seen API slow"}
    assert step["output"]["note_id"] and step["duration_ms"] is not None
    assert await notes(client, admin, found["id"]) == ["seen API slow"]
    history = (await client.get(f"{WORKFLOWS}/{workflow['id']}/runs",
                                headers=admin.headers)).json()
    assert [r["id"] for r in history["incident_workflow_runs"]] == [instance["id"]]


async def test_run_permission_teams_limits_who_starts_it(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    member: Actor = await make_actor("responder")
    outsider: Actor = await make_actor("responder")
    observer: Actor = await make_actor("observer")
    async with db.transaction() as session:
        team = await accounts.create_team(session=session, name="SRE")
        await accounts.add_team_member(session=session, team_name="SRE",
                                       email=member.user.email, role="responder")
    workflow = (await save_workflow(client, admin, note_workflow(
        run_permission={"type": "teams", "teams": [team.id]}))).json()["incident_workflow"]
    found = await incident(client, admin)
    assert (await start(client, outsider, workflow["id"], found["id"])).status_code == 403
    assert (await start(client, observer, workflow["id"], found["id"])).status_code == 403
    assert (await start(client, member, workflow["id"], found["id"])).status_code == 201
    missing = await start(client, member, workflow["id"], "PNOSUCHINCIDENT")
    assert missing.status_code == 404


async def test_cancel_stops_a_run_before_its_steps(
    client: httpx.AsyncClient, make_actor, engine: Engine
) -> None:
    admin: Actor = await make_actor("admin")
    workflow = (await save_workflow(client, admin, note_workflow())).json()["incident_workflow"]
    found = await incident(client, admin)
    run_id = (await start(client, admin, workflow["id"], found["id"])).json()[
        "incident_workflow_instance"]["id"]
    cancelled = await client.post(f"/api/incident_workflow_runs/{run_id}/cancel",
                                  headers=admin.headers)
    assert cancelled.status_code == 200
    await engine.drain()
    run = await run_detail(client, admin, run_id)
    assert run["status"] == "cancelled"
    assert [s["status"] for s in run["steps"]] == ["cancelled"]
    assert await notes(client, admin, found["id"]) == []


async def _team_manager(db: Database, make_actor, team_name: str) -> tuple[Actor, str]:
    actor: Actor = await make_actor("responder")
    async with db.transaction() as session:
        team = await accounts.create_team(session=session, name=team_name)
        await accounts.add_team_member(session=session, team_name=team_name,
                                       email=actor.user.email, role="manager")
    return actor, team.id


async def test_acl3_saver_must_be_allowed_to_select_each_connection(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    payments, payments_team = await _team_manager(db, make_actor, "Payments")
    _, search_team = await _team_manager(db, make_actor, "Search")
    ours = await es_connection(client, admin, "Payments ES",
                               teams=[{"team_id": payments_team, "type": "team_reference"}])
    theirs = await es_connection(client, admin, "Search ES",
                                 teams=[{"team_id": search_team, "type": "team_reference"}])
    global_only = await es_connection(client, admin, "Global ES")

    allowed = await save_workflow(client, payments, search_workflow(ours["id"], "Ours"))
    assert allowed.status_code == 201, allowed.text
    for connection in (theirs, global_only):
        refused = await save_workflow(client, payments, search_workflow(connection["id"]))
        assert refused.status_code == 403
        errors = refused.json()["error"]["errors"]
        # ACL-2: a connection the saver cannot see is reported as missing, not forbidden.
        assert errors == [f"steps.logs.connection: no elasticsearch connection "
                          f"{connection['id']!r}"]
    assert (await save_workflow(client, admin, search_workflow(theirs["id"]))).status_code == 201


async def test_acl3_checked_again_when_the_step_runs(
    client: httpx.AsyncClient, make_actor, db: Database, engine: Engine
) -> None:
    admin: Actor = await make_actor("admin")
    payments, payments_team = await _team_manager(db, make_actor, "Payments")
    connection = await es_connection(client, admin, "Payments ES", teams=[
        {"team_id": payments_team, "type": "team_reference"}])
    workflow = (await save_workflow(client, payments, search_workflow(connection["id"]))
                ).json()["incident_workflow"]
    # The connection is taken away from the team after the workflow was saved.
    narrowed = await client.patch(f"{ES_CONNECTIONS}/{connection['id']}", headers=admin.headers,
                                  json={"connection": {"teams": []}})
    assert narrowed.status_code == 200, narrowed.text
    found = await incident(client, admin)
    run_id = (await start(client, admin, workflow["id"], found["id"])).json()[
        "incident_workflow_instance"]["id"]
    await engine.drain()

    run = await run_detail(client, admin, run_id)
    assert run["status"] == "failed"
    step = run["steps"][0]
    assert step["status"] == "failed" and step["attempts"] == 1
    assert "may not use connection" in step["error"] and "ACL-3" in step["error"]
    async with db.session() as session:
        denied = list(await session.scalars(select(AuditEvent).where(
            AuditEvent.action == "workflow.step.run")))
    assert [(a.outcome, a.target_id) for a in denied] == [("denied", connection["id"])]
