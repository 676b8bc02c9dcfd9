"""Trigger types as PagerDuty has them, as the relay starts runs from incident events: `on`
event lists, "when an incident is created", "when conditions are met" (false → true only,
once per transition, also under concurrent changes and concurrent relays) and incident
types."""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from fireline.accounts import service as accounts
from fireline.core.db import Database
from fireline.incidents.models import OutboxEvent
from fireline.workflows import triggers
from fireline.workflows.engine import Engine
from fireline.workflows.models import Run
from tests.conftest import Actor
from tests.incidents.helpers import writer_headers
from tests.workflows.conftest import incident, save_workflow, start

P1_RULE = "incident.priority matches 'P1'"


async def _workflow(client: httpx.AsyncClient, admin: Actor, name: str,
                    trigger: dict[str, Any]) -> str:
    saved = await save_workflow(client, admin, {
        "name": name, "trigger": trigger, "steps": [{"id": "n", "action": "fireline.noop"}]})
    assert saved.status_code == 201, saved.text
    return str(saved.json()["incident_workflow"]["id"])


async def _relay_all(*engines: Engine) -> None:
    while sum(await asyncio.gather(*(engine.relay_once(limit=7) for engine in engines))):
        pass


async def _runs(db: Database, workflow_id: str) -> list[Run]:
    async with db.session() as session:
        return list(await session.scalars(
            select(Run).where(Run.workflow_id == workflow_id).order_by(Run.trigger_event_id)))


async def _priorities(client: httpx.AsyncClient, admin: Actor) -> dict[str, str]:
    found = (await client.get("/api/priorities", headers=admin.headers)).json()["priorities"]
    return {item["name"]: item["id"] for item in found}


async def _set_priority(client: httpx.AsyncClient, admin: Actor, incident_id: str,
                        priority_id: str) -> None:
    changed = await client.put(
        f"/api/incidents/{incident_id}", headers=writer_headers(admin), json={
            "incident": {"type": "incident_reference",
                         "priority": {"id": priority_id, "type": "priority_reference"}}})
    assert changed.status_code == 200, changed.text


def _transitions(snapshots: list[dict[str, Any]], trigger: dict[str, Any]) -> list[int]:
    """The positions where the condition turns from false (or no state) to true."""
    found, before = [], False
    for position, snapshot in enumerate(snapshots):
        now = triggers.holds(trigger, snapshot)
        if now and not before:
            found.append(position)
        before = now
    return found


async def test_conditions_met_fires_once_per_false_to_true_transition_under_concurrency(
    client: httpx.AsyncClient, make_actor, db: Database, engine: Engine, app,  # type: ignore[no-untyped-def]
) -> None:
    admin: Actor = await make_actor("admin")
    trigger = {"type": "conditional", "when": "conditions_met", "condition": P1_RULE}
    workflow_id = await _workflow(client, admin, "Page the P1 crew", trigger)
    priorities = await _priorities(client, admin)
    found = await incident(client, admin, "Checkout slow")
    # 50 concurrent priority changes, P1 or P2 at random (seeded: the same run every time).
    chosen = random.Random(50).choices(["P1", "P2"], k=50)
    await asyncio.gather(*(_set_priority(client, admin, found["id"], priorities[name])
                           for name in chosen))
    # Two relays share the events, as two nodes would, in batches that split an incident's
    # events between them.
    other = Engine(db=db, tools=app.state.tools, worker_id="worker-b")
    await _relay_all(engine, other)

    async with db.session() as session:
        events = list(await session.scalars(select(OutboxEvent).where(
            OutboxEvent.incident_id == found["id"]).order_by(OutboxEvent.id)))
    snapshots = [event.payload["incident"] for event in events]
    # The outbox holds the incident's states in the order they were made: the last one is
    # the incident as it is now (writers lock the row, so no change is lost either).
    now = (await client.get(f"/api/incidents/{found['id']}", headers=admin.headers)).json()
    assert snapshots[-1]["priority"] == now["incident"]["priority"]["name"]
    assert len(events) == 1 + sum(
        1 for before, after in itertools.pairwise(snapshots)
        if before["priority"] != after["priority"])
    expected = [events[position].id for position in _transitions(snapshots, trigger)]
    assert len(expected) >= 2  # the seed makes several transitions
    runs = await _runs(db, workflow_id)
    assert [run.trigger_event_id for run in runs] == expected

    # A replayed outbox (events unclaimed again) decides the same and starts nothing new.
    async with db.transaction() as session:
        await session.execute(update(OutboxEvent).values(processed_at=None))
    await _relay_all(engine)
    assert len(await _runs(db, workflow_id)) == len(expected)


async def test_conditions_met_on_creation_and_not_while_it_stays_true(
    client: httpx.AsyncClient, make_actor, db: Database, engine: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    workflow_id = await _workflow(client, admin, "High urgency", {
        "type": "conditional", "when": "conditions_met",
        "condition": "incident.urgency matches 'HIGH'"})
    found = await incident(client, admin, "Queue backed up")  # high urgency by default
    await _relay_all(engine)
    assert len(await _runs(db, workflow_id)) == 1
    # Still true: a note, a title change and acknowledging it start nothing.
    url = f"/api/incidents/{found['id']}"
    await client.post(f"{url}/notes", headers=writer_headers(admin),
                      json={"note": {"content": "looking"}})
    await client.put(url, headers=writer_headers(admin), json={"incident": {
        "type": "incident_reference", "title": "Queue badly backed up"}})
    await client.put(url, headers=writer_headers(admin), json={"incident": {
        "type": "incident_reference", "status": "acknowledged"}})
    await _relay_all(engine)
    assert len(await _runs(db, workflow_id)) == 1
    for urgency in ("low", "high"):
        await client.put(url, headers=writer_headers(admin), json={"incident": {
            "type": "incident_reference", "urgency": urgency}})
    await _relay_all(engine)
    assert len(await _runs(db, workflow_id)) == 2


@pytest.mark.parametrize("trigger, fires", [
    ({"type": "conditional", "when": "created"}, True),
    ({"type": "conditional", "when": "created", "condition": "incident.urgency matches 'low'"},
     False),
    ({"type": "conditional", "on": ["incident.triggered"],
      "condition": "incident.urgency == 'high'"}, True),
    ({"type": "incident_type", "incident_types": ["incident_default"]}, True),
    ({"type": "incident_type", "incident_types": ["security_incident"]}, False),
    ({"type": "manual"}, False),
])
async def test_a_new_incident_starts_the_workflows_whose_trigger_matches(
    client: httpx.AsyncClient, make_actor, db: Database, engine: Engine,
    trigger: dict[str, Any], fires: bool,
) -> None:
    admin: Actor = await make_actor("admin")
    workflow_id = await _workflow(client, admin, "On creation", trigger)
    await incident(client, admin, "Login errors")
    await _relay_all(engine)
    assert len(await _runs(db, workflow_id)) == (1 if fires else 0)


async def test_a_trigger_on_other_services_starts_nothing(
    client: httpx.AsyncClient, make_actor, db: Database, engine: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    elsewhere = await incident(client, admin, "Elsewhere")
    await _relay_all(engine)  # before the workflow: its event starts nothing
    workflow_id = await _workflow(client, admin, "Only there", {
        "type": "conditional", "when": "created",
        "services": [elsewhere["service"]["id"]]})
    await incident(client, admin, "Here")
    await _relay_all(engine)
    assert await _count(db, workflow_id) == 0


async def _count(db: Database, workflow_id: str) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Run).where(
            Run.workflow_id == workflow_id)) or 0)


@pytest.mark.parametrize("trigger, message", [
    ({"type": "conditional", "when": "conditions_met"}, "needs a condition"),
    ({"type": "conditional", "on": ["incident.triggered"], "when": "created"}, "not both"),
    ({"type": "conditional"}, "needs `on`"),
    ({"type": "conditional", "when": "created", "condition": "incident.priority matches"},
     "does not parse"),
    ({"type": "incident_type", "incident_types": []}, "incident_types"),
])
async def test_a_trigger_that_cannot_work_is_refused_at_save(
    client: httpx.AsyncClient, make_actor, trigger: dict[str, Any], message: str,
) -> None:
    admin: Actor = await make_actor("admin")
    saved = await save_workflow(client, admin, {
        "name": "Refused", "trigger": trigger,
        "steps": [{"id": "n", "action": "fireline.noop"}]})
    assert saved.status_code == 400, saved.text
    assert message in saved.text


# --- /incident_workflows/triggers: PagerDuty's resource ---------------------------------------

TRIGGERS = "/api/incident_workflows/triggers"


async def test_a_trigger_posted_as_pagerduty_documents_it_reads_back_and_starts_runs(
    client: httpx.AsyncClient, make_actor, db: Database, engine: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    workflow_id = await _workflow(client, admin, "Escalate P1", {"type": "manual"})
    found = await incident(client, admin, "Payments down")
    service_id = found["service"]["id"]
    # PagerDuty's own request example for POST /incident_workflows/triggers.
    created = await client.post(TRIGGERS, headers=admin.headers, json={"trigger": {
        "trigger_type": "conditional", "workflow": {"id": workflow_id},
        "services": [{"id": service_id}], "is_subscribed_to_all_services": False,
        "condition": P1_RULE}})
    assert created.status_code == 201, created.text
    body = created.json()["trigger"]
    assert body["id"] == workflow_id and body["type"] == "workflow_trigger"
    assert (body["trigger_type"], body["trigger_type_name"], body["condition"]) == (
        "conditional", "Conditional Trigger", P1_RULE)
    assert [item["id"] for item in body["services"]] == [service_id]
    assert body["is_subscribed_to_all_services"] is False
    assert body["workflow"]["id"] == workflow_id and body["trigger_url"].endswith(
        f"/api/incident_workflows/{workflow_id}/instances")
    # It is the workflow's trigger, in our shape too.
    ours = (await client.get(f"/api/incident_workflows/{workflow_id}",
                             headers=admin.headers)).json()["incident_workflow"]
    assert ours["trigger"] == {"type": "conditional", "when": "conditions_met",
                               "condition": P1_RULE, "services": [service_id]}
    assert (await client.get(f"{TRIGGERS}/{workflow_id}", headers=admin.headers)).json()[
        "trigger"] == body
    listed = (await client.get(TRIGGERS, headers=admin.headers,
                               params={"service_id": service_id})).json()["triggers"]
    assert [item["id"] for item in listed] == [workflow_id]
    assert (await client.get(TRIGGERS, headers=admin.headers,
                             params={"trigger_type": "manual"})).json()["triggers"] == []

    priorities = await _priorities(client, admin)
    await _relay_all(engine)
    await _set_priority(client, admin, found["id"], priorities["P1"])
    await _relay_all(engine)
    assert len(await _runs(db, workflow_id)) == 1

    # A second trigger for the same workflow is a conflict; PUT replaces the one it has.
    again = await client.post(TRIGGERS, headers=admin.headers, json={"trigger": {
        "trigger_type": "manual", "workflow": {"id": workflow_id}}})
    assert again.status_code == 409, again.text
    async with db.transaction() as session:
        team_id = (await accounts.create_team(session=session, name="Payments")).id
    replaced = await client.put(f"{TRIGGERS}/{workflow_id}", headers=admin.headers, json={
        "trigger": {"trigger_type": "manual", "is_subscribed_to_all_services": True,
                    "permissions": {"restricted": True, "team_id": team_id}}})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["trigger"]["permissions"]["restricted"] is True
    ours = (await client.get(f"/api/incident_workflows/{workflow_id}",
                             headers=admin.headers)).json()["incident_workflow"]
    assert ours["trigger"] == {"type": "manual"}
    assert ours["run_permission"] == {"type": "teams", "teams": [team_id]}

    # Services are added and removed one at a time; DELETE puts the default back.
    added = await client.post(f"{TRIGGERS}/{workflow_id}/services", headers=admin.headers,
                              json={"service": {"id": service_id}})
    assert [item["id"] for item in added.json()["trigger"]["services"]] == [service_id]
    last = await client.delete(f"{TRIGGERS}/{workflow_id}/services/{service_id}",
                               headers=admin.headers)
    assert last.status_code == 400 and "all services" in last.text
    assert (await client.delete(f"{TRIGGERS}/{workflow_id}", headers=admin.headers)
            ).status_code == 204
    back = (await client.get(f"{TRIGGERS}/{workflow_id}", headers=admin.headers)).json()
    assert back["trigger"]["trigger_type"] == "manual"
    assert back["trigger"]["permissions"] == {"restricted": False}
    assert (await client.get(f"{TRIGGERS}/PNOSUCH", headers=admin.headers)).status_code == 404


@pytest.mark.parametrize("trigger, message", [
    ({"trigger_type": "manual", "condition": P1_RULE}, "only for conditional"),
    ({"trigger_type": "conditional", "condition": "incident.priority matches"},
     "does not parse"),
    ({"trigger_type": "incident_type"}, "needs incident_types"),
    ({"trigger_type": "manual", "permissions": {"restricted": True}}, "team_id"),
    ({"trigger_type": "conditional", "is_subscribed_to_all_services": False},
     "list the services"),
    ({"trigger_type": "sometimes"}, "trigger.trigger_type"),
])
async def test_a_trigger_pagerduty_would_refuse_is_refused(
    client: httpx.AsyncClient, make_actor, trigger: dict[str, Any], message: str,
) -> None:
    admin: Actor = await make_actor("admin")
    workflow_id = await _workflow(client, admin, "Refuses", {"type": "manual"})
    refused = await client.post(TRIGGERS, headers=admin.headers, json={
        "trigger": {**trigger, "workflow": {"id": workflow_id}}})
    assert refused.status_code == 400, refused.text
    assert message in refused.text


async def test_a_manual_trigger_on_services_starts_only_on_their_incidents(
    client: httpx.AsyncClient, make_actor,
) -> None:
    admin: Actor = await make_actor("admin")
    here = await incident(client, admin, "Here")
    there = await incident(client, admin, "There")
    workflow_id = await _workflow(client, admin, "Here only", {
        "type": "manual", "services": [here["service"]["id"]]})
    for found, status in ((here, 201), (there, 400)):
        started = await start(client, admin, workflow_id, found["id"])
        assert started.status_code == status, started.text
