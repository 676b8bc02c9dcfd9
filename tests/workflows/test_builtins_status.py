"""The built-ins `fireline.send_status_update`, `add_stakeholders` and `add_conference_bridge`:
they change the run's incident through `incidents.status_updates`, inside the step's
completion transaction, so a refused step leaves nothing behind."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from fireline.accounts import service as accounts
from fireline.accounts.models import TeamMembership
from fireline.core.db import Database
from fireline.incidents.models import LogEntry
from fireline.incidents.status_updates import Delivery, StatusUpdate, Subscriber
from fireline.workflows.engine import Engine
from tests.conftest import Actor
from tests.workflows.conftest import incident, run_detail, save_workflow, start


async def _run(client: httpx.AsyncClient, admin: Actor, engine: Engine, steps: list[dict],
               title: str = "Checkout down") -> tuple[dict, dict]:
    saved = await save_workflow(client, admin, {"name": f"Comms {title}", "steps": steps})
    assert saved.status_code == 201, saved.text
    found = await incident(client, admin, title=title)
    started = await start(client, admin, saved.json()["incident_workflow"]["id"], found["id"])
    assert started.status_code in (200, 201, 202), started.text
    await engine.drain()
    run = await run_detail(client, admin, started.json()["incident_workflow_instance"]["id"])
    return found, run


async def test_stakeholders_a_bridge_and_a_status_update_in_one_run(
    client: httpx.AsyncClient, make_actor, db: Database, engine: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    watcher: Actor = await make_actor("observer")
    member: Actor = await make_actor("responder")
    async with db.transaction() as session:
        team = await accounts.create_team(session=session, name="Customer Care")
        session.add(TeamMembership(team_id=team.id, user_id=member.user.id, role="observer"))
    found, run = await _run(client, admin, engine, [
        {"id": "people", "action": "fireline.add_stakeholders",
         "with": {"users": [watcher.user.email.upper()], "teams": ["customer care"]}},
        {"id": "bridge", "action": "fireline.add_conference_bridge",
         "with": {"conference_number": "+1 415-555-1212,,,,1234#",
                  "conference_url": "https://meet.example/{{ incident.incident_number }}"}},
        {"id": "update", "action": "fireline.send_status_update",
         "with": {"message": "We are on it: {{ incident.title }}. Join "
                             "{{ steps.bridge.output.conference_url }}",
                  "subject": "Checkout"}},
        {"id": "again", "action": "fireline.add_stakeholders",
         "with": {"users": [watcher.user.id]}},
    ])
    assert run["status"] == "succeeded", run
    outputs = {step["id"]: step["output"] for step in run["steps"]}
    assert outputs["people"] == {"incident_id": found["id"], "users": [watcher.user.id],
                                 "teams": [team.id], "added": 2}
    bridge_url = f"https://meet.example/{found['incident_number']}"
    assert outputs["bridge"] == {"incident_id": found["id"],
                                 "conference_number": "+1 415-555-1212,,,,1234#",
                                 "conference_url": bridge_url}
    assert outputs["update"]["notified_count"] == 2
    assert outputs["again"]["added"] == 0  # subscribed already

    got = (await client.get(f"/api/incidents/{found['id']}", headers=admin.headers)).json()
    assert got["incident"]["conference_bridge"] == {
        "conference_number": "+1 415-555-1212,,,,1234#", "conference_url": bridge_url}
    updates = (await client.get(f"/api/incidents/{found['id']}/status_updates",
                                headers=admin.headers)).json()["status_updates"]
    assert [(item["message"], item["subject"]) for item in updates] == [
        (f"We are on it: Checkout down. Join {bridge_url}", "Checkout")]
    # Sent for the person who started the run; the timeline names the workflow.
    assert updates[0]["sender"]["id"] == admin.user.id
    async with db.session() as session:
        delivered = set(await session.scalars(select(Delivery.user_id)))
        entry = await session.scalar(select(LogEntry).where(
            LogEntry.incident_id == found["id"], LogEntry.type == "status_update_log_entry"))
    assert delivered == {watcher.user.id, member.user.id}
    assert entry is not None and entry.agent["type"] == "incident_workflow_reference"


async def test_a_refused_step_changes_nothing(
    client: httpx.AsyncClient, make_actor, db: Database, engine: Engine,
) -> None:
    admin: Actor = await make_actor("admin")
    cases = {
        "teams": {"action": "fireline.add_stakeholders",
                  "with": {"users": [admin.user.id], "teams": ["No Such Team"]}},
        # Rendered at run time: only then is the value known to be refused.
        "url": {"action": "fireline.add_conference_bridge",
                "with": {"conference_url": "javascript:{{ incident.id }}"}},
    }
    errors = {}
    for name, step in cases.items():
        found, run = await _run(client, admin, engine, [{"id": "step", **step}], title=name)
        assert run["status"] == "failed", run
        errors[name] = run["steps"][0]["error"]
        got = (await client.get(f"/api/incidents/{found['id']}", headers=admin.headers)).json()
        assert got["incident"]["conference_bridge"] is None
    assert "No Such Team" in errors["teams"]
    assert "http" in errors["url"]
    # A value fixed in the definition is refused when the workflow is saved.
    for step in ({"action": "fireline.add_stakeholders", "with": {"users": [], "teams": []}},
                 {"action": "fireline.add_conference_bridge",
                  "with": {"conference_url": "javascript:alert(1)"}}):
        refused = await save_workflow(client, admin, {"name": "Refused", "steps": [
            {"id": "step", **step}]})
        assert refused.status_code == 400, refused.text
        assert any(part in refused.text for part in ("at least one user or team", "http"))
    async with db.session() as session:
        # The known user of the first case was not subscribed either: the step is one change.
        assert await session.scalar(select(func.count()).select_from(Subscriber)) == 0
        assert await session.scalar(select(func.count()).select_from(StatusUpdate)) == 0
