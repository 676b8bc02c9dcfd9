from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from fireline.core.db import Database
from fireline.incidents.models import Alert, Incident
from tests.conftest import Actor
from tests.incidents.helpers import create_integration, create_service


async def _routing_key(client: httpx.AsyncClient, make_actor, **service: Any) -> str:
    admin: Actor = await make_actor("admin")
    created = await create_service(client, admin, **service)
    return str((await create_integration(client, admin, created["id"]))["integration_key"])


def _trigger(routing_key: str, **fields: Any) -> dict[str, Any]:
    return {"routing_key": routing_key, "event_action": "trigger", "payload": {
        "summary": "DISK at 99% on prod-datapipe03", "source": "prod-datapipe03",
        "severity": "critical", "component": "mysql", "group": "prod-datapipe",
        "class": "disk", "custom_details": {"free space": "1%"}}, **fields}


async def _incidents(db: Database) -> list[Incident]:
    async with db.session() as session:
        return list((await session.scalars(
            select(Incident).order_by(Incident.incident_number))).unique())


async def test_trigger_opens_an_incident_and_returns_the_dedup_key(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    key = await _routing_key(client, make_actor)
    response = await client.post("/v2/enqueue", json=_trigger(
        key, dedup_key="srv01/mysql", client="Sample Monitoring", client_url="https://mon.example",
        links=[{"href": "https://example.com", "text": "runbook"}],
        images=[{"src": "https://example.com/chart.png"}]))
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed",
                               "dedup_key": "srv01/mysql"}
    [incident] = await _incidents(db)
    assert (incident.title, incident.urgency, incident.incident_key, incident.alert_count) == (
        "DISK at 99% on prod-datapipe03", "high", "srv01/mysql", 1)
    assert incident.last_status_change_by["type"] == "service_reference"


async def test_generated_dedup_key_and_low_urgency(client: httpx.AsyncClient, make_actor,
                                                   db: Database) -> None:
    key = await _routing_key(client, make_actor)
    event = _trigger(key)
    event["payload"]["severity"] = "warning"
    response = await client.post("/v2/enqueue", json=event)
    dedup_key = response.json()["dedup_key"]
    [incident] = await _incidents(db)
    assert incident.incident_key == dedup_key and incident.urgency == "low"


async def test_wf2_repeated_trigger_appends_an_alert(client: httpx.AsyncClient, make_actor,
                                                     db: Database) -> None:
    key = await _routing_key(client, make_actor)
    for _ in range(3):
        assert (await client.post("/v2/enqueue", json=_trigger(
            key, dedup_key="same"))).status_code == 202
    [incident] = await _incidents(db)
    assert incident.alert_count == 3
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 3


async def test_wf2_fifty_concurrent_identical_triggers_make_one_incident(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    key = await _routing_key(client, make_actor)
    responses = await asyncio.gather(*(
        client.post("/v2/enqueue", json=_trigger(key, dedup_key="storm")) for _ in range(50)))
    assert {response.status_code for response in responses} == {202}
    incidents = await _incidents(db)
    assert len(incidents) == 1
    assert incidents[0].alert_count == 50


async def test_acknowledge_and_resolve_act_on_the_open_incident(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    key = await _routing_key(client, make_actor)
    await client.post("/v2/enqueue", json=_trigger(key, dedup_key="k1"))
    for action, status in (("acknowledge", "acknowledged"), ("resolve", "resolved")):
        response = await client.post("/v2/enqueue", json={
            "routing_key": key, "event_action": action, "dedup_key": "k1"})
        assert response.status_code == 202
        [incident] = await _incidents(db)
        assert incident.status == status
    # after resolution the same key opens a new incident
    await client.post("/v2/enqueue", json=_trigger(key, dedup_key="k1"))
    assert [item.status for item in await _incidents(db)] == ["resolved", "triggered"]
    unknown = await client.post("/v2/enqueue", json={
        "routing_key": key, "event_action": "resolve", "dedup_key": "never-seen"})
    assert unknown.status_code == 202


async def test_invalid_events_are_rejected_in_pagerduty_shape(client: httpx.AsyncClient,
                                                              make_actor) -> None:
    key = await _routing_key(client, make_actor)
    cases = [
        {"routing_key": key, "event_action": "explode"},
        {"routing_key": key, "event_action": "trigger"},
        {"routing_key": key, "event_action": "resolve"},
        _trigger(key, payload={"summary": "x", "source": "y", "severity": "fatal"}),
        _trigger(key, unexpected=True),
        _trigger("0" * 32),
    ]
    for event in cases:
        response = await client.post("/v2/enqueue", json=event)
        assert response.status_code == 400, event
        body = response.json()
        assert body["status"] == "invalid event"
        assert body["message"] == "Event object is invalid"
        assert body["errors"], event
    garbage = await client.post("/v2/enqueue", content=b"{not json")
    assert garbage.status_code == 400
    assert garbage.json()["status"] == "Unrecognized object"


async def test_events_agent_is_the_service_in_log_entries(client: httpx.AsyncClient,
                                                          make_actor) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin, name="Monitored")
    key = (await create_integration(client, admin, service["id"]))["integration_key"]
    await client.post("/v2/enqueue", json=_trigger(key, dedup_key="a"))
    await client.post("/v2/enqueue", json={"routing_key": key, "event_action": "resolve",
                                           "dedup_key": "a"})
    entries = (await client.get("/api/log_entries", headers=admin.headers)).json()["log_entries"]
    assert [entry["type"] for entry in entries] == ["resolve_log_entry", "trigger_log_entry"]
    for entry in entries:
        assert entry["agent"]["type"] == "service_reference"
        assert entry["agent"]["id"] == service["id"]


async def test_wf2_concurrent_mixed_events_keep_independent_outcomes(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    """Events arriving together share a transaction (group commit); an unknown routing key
    among them fails alone, and every acknowledged trigger is stored."""
    key = await _routing_key(client, make_actor)
    events = [_trigger(key, dedup_key=f"k{n % 3}") for n in range(12)]
    events.insert(5, _trigger("f" * 32, dedup_key="k0"))
    responses = await asyncio.gather(*(client.post("/v2/enqueue", json=event)
                                       for event in events))
    assert [response.status_code for response in responses] == [202] * 5 + [400] + [202] * 7
    incidents = await _incidents(db)
    assert sorted((item.incident_key, item.alert_count) for item in incidents) == [
        ("k0", 4), ("k1", 4), ("k2", 4)]
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 12
