"""The official `pagerduty` client (REST API v2 and Events API v2) against a real server."""

from __future__ import annotations

from collections.abc import Iterator

import pagerduty
import pytest

from tests.e2e.conftest import FirelineServer, make_service


@pytest.fixture
def rest(fireline_server: FirelineServer) -> Iterator[pagerduty.RestApiV2Client]:
    with pagerduty.RestApiV2Client(
        fireline_server.api_key, base_url=f"{fireline_server.url}/api",
        default_from=fireline_server.email, verify=fireline_server.ssl_context,
    ) as client:
        client.retry[429] = 0  # fail fast instead of backing off
        yield client


def test_incidents_notes_log_entries_and_users_with_the_official_client(
    fireline_server: FirelineServer, rest: pagerduty.RestApiV2Client
) -> None:
    service_id, _ = make_service(fireline_server, "Official client")
    created = [
        rest.rpost("/incidents", json={
            "type": "incident", "title": f"Disk full #{i}",
            "service": {"id": service_id, "type": "service_reference"},
            "urgency": "low" if i % 2 else "high",
            "body": {"type": "incident_body", "details": "95% on /var"}})
        for i in range(5)
    ]
    assert all(item["status"] == "triggered" for item in created)
    got = rest.rget(f"/incidents/{created[0]['id']}")
    assert got["title"] == "Disk full #0"
    # several pages of two
    listed = list(rest.iter_all("/incidents", params={"service_ids": [service_id]},
                                page_size=2))
    assert [item["id"] for item in listed] == [item["id"] for item in created]
    assert rest.get_total("/incidents", params={"service_ids[]": [service_id]}) == 5
    high = rest.list_all("/incidents", params={"service_ids": [service_id],
                                                "urgencies": ["high"]})
    assert len(high) == 3
    # update through the resource's own `self` URL
    acknowledged = rest.rput(got, json={"type": "incident_reference",
                                        "status": "acknowledged"})
    assert acknowledged["status"] == "acknowledged"
    note = rest.rpost(f"/incidents/{got['id']}/notes", json={"content": "Rotating logs"})
    assert note["content"] == "Rotating logs"
    notes = rest.rget(f"/incidents/{got['id']}/notes")
    assert [item["content"] for item in notes] == ["Rotating logs"]
    annotated = list(rest.iter_incident_notes(incident_id=got["id"]))
    assert annotated and annotated[0]["channel"]["summary"] == "Rotating logs"
    entries = list(rest.iter_all(f"/incidents/{got['id']}/log_entries", page_size=1))
    assert {entry["type"] for entry in entries} >= {
        "trigger_log_entry", "acknowledge_log_entry", "annotate_log_entry"}
    entry = rest.rget(f"/log_entries/{entries[0]['id']}")
    assert entry["incident"]["id"] == got["id"]
    everything = list(rest.iter_all("/log_entries", page_size=3))
    assert len(everything) >= 7
    user = rest.rget(entry["agent"])
    assert user["email"] == fireline_server.email
    resolved = rest.rput("/incidents", json=[
        {"id": item["id"], "type": "incident_reference", "status": "resolved"}
        for item in created])
    assert {item["status"] for item in resolved} == {"resolved"}


def test_missing_from_header_is_reported_like_pagerduty(
    fireline_server: FirelineServer
) -> None:
    service_id, _ = make_service(fireline_server, "No From")
    client = pagerduty.RestApiV2Client(
        fireline_server.api_key, base_url=f"{fireline_server.url}/api",
        verify=fireline_server.ssl_context)
    with client, pytest.raises(pagerduty.HttpError) as raised:
        client.rpost("/incidents", json={
            "type": "incident", "title": "x",
            "service": {"id": service_id, "type": "service_reference"}})
    assert raised.value.response.status_code == 400
    assert raised.value.response.json()["error"]["code"] == 2001


def test_events_api_v2_client_triggers_acknowledges_and_resolves(
    fireline_server: FirelineServer, rest: pagerduty.RestApiV2Client
) -> None:
    service_id, routing_key = make_service(fireline_server, "Events client")
    with pagerduty.EventsApiV2Client(routing_key, base_url=fireline_server.url,
                                     verify=fireline_server.ssl_context) as events:
        dedup_key = events.trigger("CPU at 100% on web-1", "web-1", severity="critical",
                                   custom_details={"load": 9.5})
        assert events.trigger("CPU at 100% on web-1", "web-1",
                              dedup_key=dedup_key) == dedup_key
        [incident] = rest.list_all("/incidents", params={"service_ids": [service_id]})
        assert (incident["incident_key"], incident["urgency"]) == (dedup_key, "high")
        assert incident["alert_counts"]["all"] == 2
        events.acknowledge(dedup_key)
        assert rest.rget(incident)["status"] == "acknowledged"
        events.resolve(dedup_key)
        assert rest.rget(incident)["status"] == "resolved"
