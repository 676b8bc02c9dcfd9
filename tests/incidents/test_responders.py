"""Responder requests: `POST /api/incidents/{id}/responder_requests` in PagerDuty's shape,
and the lifecycle change behind it (assignees, log entry, outbox event)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from fireline.core.db import Database
from fireline.incidents.models import OutboxEvent
from tests.conftest import Actor
from tests.incidents.helpers import create_incident, create_service, writer_headers


def request_body(requester: Actor, *targets: dict[str, str], message: str = ""
                 ) -> dict[str, Any]:
    return {"requester_id": requester.user.id, "message": message,
            "responder_request_targets": [{"responder_request_target": t} for t in targets]}


def user_target(actor: Actor) -> dict[str, str]:
    return {"id": actor.user.id, "type": "user_reference"}


async def test_requested_users_join_the_incident_with_a_log_entry_and_an_event(
    client: httpx.AsyncClient, make_actor, db: Database,
) -> None:
    admin: Actor = await make_actor("admin")
    helper: Actor = await make_actor("responder")
    outsider: Actor = await make_actor("restricted")
    service = await create_service(client, admin)
    incident = (await create_incident(client, admin, service["id"], assignments=[
        {"assignee": {"id": admin.user.id, "type": "user_reference"}}])).json()["incident"]
    url = f"/api/incidents/{incident['id']}/responder_requests"
    seen = f"/api/incidents/{incident['id']}"
    assert (await client.get(seen, headers=outsider.headers)).status_code == 404

    response = await client.post(url, headers=writer_headers(admin), json=request_body(
        admin, user_target(helper), user_target(outsider), message="Join the bridge"))
    assert response.status_code == 200, response.text
    body = response.json()["responder_request"]
    assert body["incident"]["id"] == incident["id"]
    assert body["requester"]["id"] == admin.user.id and body["message"] == "Join the bridge"
    targets = [item["responder_request_target"] for item in body["responder_request_targets"]]
    assert [(t["id"], t["type"]) for t in targets] == [(helper.user.id, "user"),
                                                       (outsider.user.id, "user")]
    responder = targets[0]["incident_responders"][0]
    assert responder["user"]["id"] == helper.user.id and responder["state"] == "joined"

    got = (await client.get(seen, headers=admin.headers)).json()["incident"]
    assigned = [a["assignee"]["id"] for a in got["assignments"]]
    # Those assigned before come first; the two added share one time.
    assert assigned[0] == admin.user.id
    assert sorted(assigned[1:]) == sorted([helper.user.id, outsider.user.id])
    # A restricted user sees the incidents they respond to.
    assert (await client.get(seen, headers=outsider.headers)).status_code == 200
    entries = (await client.get(f"{seen}/log_entries", headers=admin.headers)).json()
    [entry] = [e for e in entries["log_entries"] if e["type"] == "responder_request_log_entry"]
    assert entry["message"] == "Join the bridge"
    assert [a["id"] for a in entry["assignees"]] == [helper.user.id, outsider.user.id]
    async with db.session() as session:
        [event] = await session.scalars(select(OutboxEvent).where(
            OutboxEvent.kind == "incident.responders_added"))
    assert event.incident_id == incident["id"]
    assert event.payload["added"] == [helper.user.id, outsider.user.id]

    # Asking again for someone already there adds nobody, and says so in the event.
    again = await client.post(url, headers=writer_headers(admin),
                              json=request_body(admin, user_target(helper)))
    assert again.status_code == 200
    assert again.json()["responder_request"]["message"] == 'Please help with "Disk full"'
    got = (await client.get(seen, headers=admin.headers)).json()["incident"]
    assert len(got["assignments"]) == 3
    async with db.session() as session:
        events = list(await session.scalars(select(OutboxEvent).where(
            OutboxEvent.kind == "incident.responders_added").order_by(OutboxEvent.id)))
    assert events[-1].payload["added"] == [] and events[-1].payload["responders"] == [
        helper.user.id]


async def test_responder_requests_refuse_what_they_cannot_do(
    client: httpx.AsyncClient, make_actor,
) -> None:
    admin: Actor = await make_actor("admin")
    helper: Actor = await make_actor("responder")
    observer: Actor = await make_actor("observer")
    service = await create_service(client, admin)
    incident = (await create_incident(client, admin, service["id"])).json()["incident"]
    url = f"/api/incidents/{incident['id']}/responder_requests"

    async def post(actor: Actor, body: dict[str, Any]) -> httpx.Response:
        return await client.post(url, headers=writer_headers(actor), json=body)

    policy = await post(admin, request_body(
        admin, {"id": "PPOLICY", "type": "escalation_policy_reference"}))
    assert policy.status_code == 400 and "PPOLICY" in policy.text
    unknown = await post(admin, request_body(admin, {"id": "PNOBODY", "type": "user_reference"}))
    assert unknown.status_code == 400 and "PNOBODY" in unknown.text
    assert (await post(admin, request_body(helper, user_target(helper)))).status_code == 400
    assert (await post(admin, {**request_body(admin), "responder_request_targets": []})
            ).status_code == 400
    assert (await post(observer, request_body(observer, user_target(helper)))).status_code == 403
    missing = await client.post("/api/incidents/PNOPE/responder_requests",
                                headers=writer_headers(admin),
                                json=request_body(admin, user_target(helper)))
    assert missing.status_code == 404
    resolved = await client.put(f"/api/incidents/{incident['id']}", headers=writer_headers(admin),
                                json={"incident": {"type": "incident", "status": "resolved"}})
    assert resolved.status_code == 200
    late = await post(admin, request_body(admin, user_target(helper)))
    assert late.status_code == 400 and "Already Resolved" in late.text
