from __future__ import annotations

import httpx

from fireline.core.db import Database
from fireline.incidents import outbox
from tests.conftest import Actor
from tests.incidents.helpers import create_incident, create_service, writer_headers


async def test_wf1_every_change_writes_an_outbox_event_claimed_in_order(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    incident = (await create_incident(client, admin, service["id"], incident_key="k")).json()[
        "incident"]
    url = f"/api/incidents/{incident['id']}"
    headers = writer_headers(admin)
    p1 = (await client.get("/api/priorities", headers=admin.headers)).json()["priorities"][0]
    await client.put(url, headers=headers, json={"incident": {
        "type": "incident_reference", "status": "acknowledged"}})
    await client.put(url, headers=headers, json={"incident": {
        "type": "incident_reference", "priority": {"id": p1["id"], "type": "priority_reference"}}})
    await client.post(f"{url}/notes", headers=headers, json={"note": {"content": "hi"}})
    await client.put(url, headers=headers, json={"incident": {
        "type": "incident_reference", "status": "resolved"}})
    async with db.transaction() as session:
        first = await outbox.claim(session=session, limit=3)
    async with db.transaction() as session:
        rest = await outbox.claim(session=session)
    async with db.transaction() as session:
        assert await outbox.claim(session=session) == []
    assert [event.kind for event in first + rest] == [
        "incident.triggered", "incident.acknowledged", "incident.priority_changed",
        "incident.note_added", "incident.resolved"]
    assert all(event.incident_id == incident["id"] for event in first + rest)
    assert first[2].payload["incident"]["priority"] == "P1"
    assert rest[0].payload["note"]["content"] == "hi"


async def test_wf1_a_rejected_change_leaves_no_outbox_event(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    await create_incident(client, admin, service["id"], incident_key="dup")
    rejected = await create_incident(client, admin, service["id"], incident_key="dup")
    assert rejected.status_code == 400
    async with db.transaction() as session:
        events = await outbox.claim(session=session)
    assert [event.kind for event in events] == ["incident.triggered"]


async def test_a_rolled_back_claim_leaves_events_unclaimed(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    await create_incident(client, admin, service["id"])
    async with db.session() as session, session.begin():
        assert len(await outbox.claim(session=session)) == 1
        await session.rollback()
    async with db.transaction() as session:
        assert len(await outbox.claim(session=session)) == 1
