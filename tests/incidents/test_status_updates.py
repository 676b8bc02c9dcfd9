"""Status updates, stakeholders and the conference bridge over the REST API, in PagerDuty's
shapes: `POST|GET /api/incidents/{id}/status_updates`, `.../subscribers`, `.../unsubscribe`,
and `conference_bridge` on the incident."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, update

from fireline.accounts import service as accounts
from fireline.accounts.models import TeamMembership, User
from fireline.core.clock import utcnow
from fireline.core.db import Database
from fireline.incidents.status_updates import Delivery
from tests.conftest import Actor
from tests.incidents.helpers import create_incident, create_service, writer_headers


async def _incident(client: httpx.AsyncClient, actor: Actor, **fields: Any) -> dict[str, Any]:
    service = await create_service(client, actor, name=f"svc-{len(fields)}-{actor.user.id}")
    created = await create_incident(client, actor, service["id"], **fields)
    assert created.status_code == 201, created.text
    return created.json()["incident"]  # type: ignore[no-any-return]


def _user(actor: Actor) -> dict[str, str]:
    return {"subscriber_id": actor.user.id, "subscriber_type": "user"}


def _team(team_id: str) -> dict[str, str]:
    return {"subscriber_id": team_id, "subscriber_type": "team"}


async def _deliveries(db: Database, status_update_id: str) -> set[str]:
    async with db.session() as session:
        return set(await session.scalars(select(Delivery.user_id).where(
            Delivery.status_update_id == status_update_id)))


async def test_a_status_update_is_stored_sanitised_in_the_timeline_and_listed_newest_first(
    client: httpx.AsyncClient, make_actor,
) -> None:
    admin: Actor = await make_actor("admin")
    incident = await _incident(client, admin)
    url = f"/api/incidents/{incident['id']}/status_updates"

    sent = await client.post(url, headers=writer_headers(admin), json={
        "message": "The server fire is spreading.", "subject": "Server Fire Update",
        "html_message": '<h1 onclick="steal()">Still on fire</h1><script>alert(1)</script>'
                        '<a href="javascript:alert(2)">details</a>'
                        '<a href="https://status.example/42">status</a>'})
    assert sent.status_code == 200, sent.text  # PagerDuty answers 200, not 201
    body = sent.json()["status_update"]
    assert body["message"] == "The server fire is spreading."
    assert body["subject"] == "Server Fire Update"
    assert body["sender"]["id"] == admin.user.id
    assert body["sender"]["type"] == "user_reference"
    assert body["notified_count"] == 0  # nobody subscribed yet
    html = body["html_message"]
    assert "<h1>Still on fire</h1>" in html
    for gone in ("onclick", "<script", "alert(1)", "javascript:"):
        assert gone not in html
    assert 'href="https://status.example/42"' in html

    plain = await client.post(url, headers=writer_headers(admin), json={"message": "Contained."})
    assert plain.status_code == 200, plain.text
    # PagerDuty: subject and html_message are present only when they were sent.
    assert set(plain.json()["status_update"]) == {
        "id", "message", "sender", "created_at", "notified_count"}

    listed = await client.get(url, headers=admin.headers, params={"total": "true"})
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert [item["message"] for item in page["status_updates"]] == [
        "Contained.", "The server fire is spreading."]
    assert (page["total"], page["more"], page["offset"]) == (2, False, 0)
    first = (await client.get(url, headers=admin.headers, params={"limit": 1})).json()
    assert [item["message"] for item in first["status_updates"]] == ["Contained."]
    assert first["more"] is True
    assert "notified_count" not in first["status_updates"][0]  # PagerDuty's shape when read

    entries = (await client.get(f"/api/incidents/{incident['id']}/log_entries",
                                headers=admin.headers)).json()["log_entries"]
    logged = [entry for entry in entries if entry["type"] == "status_update_log_entry"]
    assert [entry["summary"] for entry in logged] == ["Contained.",
                                                      "The server fire is spreading."]
    assert logged[1]["status_update_id"] == body["id"]
    assert logged[1]["notified_count"] == 0
    assert logged[1]["agent"]["id"] == admin.user.id


async def test_bad_status_update_bodies_are_pagerduty_400s(
    client: httpx.AsyncClient, make_actor,
) -> None:
    admin: Actor = await make_actor("admin")
    incident = await _incident(client, admin)
    url = f"/api/incidents/{incident['id']}/status_updates"
    for body in ({"message": ""}, {}, {"message": "x", "html_message": "<p>no subject</p>"},
                 {"message": "x", "colour": "red"},
                 {"status_update": {"message": "PagerDuty's body is not wrapped"}}):
        refused = await client.post(url, headers=writer_headers(admin), json=body)
        assert refused.status_code == 400, (body, refused.text)
        assert refused.json()["error"]["code"] == 2001
    without_subject = await client.post(url, headers=writer_headers(admin), json={
        "message": "x", "html_message": "<p>hi</p>"})
    assert any("subject is required with html_message" in error
               for error in without_subject.json()["error"]["errors"])
    # PagerDuty's rule for writes with an API key: the `From` header names the user.
    no_from = await client.post(url, headers=admin.headers, json={"message": "x"})
    assert no_from.status_code == 400
    missing = await client.post("/api/incidents/PNOSUCH/status_updates",
                                headers=writer_headers(admin), json={"message": "x"})
    assert missing.status_code == 404


async def test_stakeholders_are_notified_once_each_teams_by_their_members_at_send_time(
    client: httpx.AsyncClient, make_actor, db: Database,
) -> None:
    admin: Actor = await make_actor("admin")
    direct: Actor = await make_actor("observer")
    member: Actor = await make_actor("responder")
    disabled: Actor = await make_actor("responder")
    late: Actor = await make_actor("responder")
    async with db.transaction() as session:
        team = await accounts.create_team(session=session, name="Comms")
        session.add_all([TeamMembership(team_id=team.id, user_id=user.user.id, role="responder")
                         for user in (direct, member, disabled)])
        await session.execute(update(User).where(User.id == disabled.user.id)
                              .values(disabled_at=utcnow()))
    incident = await _incident(client, admin)
    base = f"/api/incidents/{incident['id']}/status_updates"

    added = await client.post(f"{base}/subscribers", headers=admin.headers, json={
        "subscribers": [_user(direct), _team(team.id), _user(direct)]})
    assert added.status_code == 200, added.text
    assert added.json()["subscriptions"] == [
        {"subscriber_id": direct.user.id, "subscriber_type": "user",
         "subscribable_id": incident["id"], "subscribable_type": "incident",
         "result": "success"},
        {"subscriber_id": team.id, "subscriber_type": "team",
         "subscribable_id": incident["id"], "subscribable_type": "incident",
         "result": "success"},
    ]
    again = await client.post(f"{base}/subscribers", headers=admin.headers, json={
        "subscribers": [_team(team.id)]})
    assert [item["result"] for item in again.json()["subscriptions"]] == ["duplicate"]
    unknown = await client.post(f"{base}/subscribers", headers=admin.headers, json={
        "subscribers": [_user(member), {"subscriber_id": "PNOSUCH", "subscriber_type": "team"}]})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["errors"] == ["Team PNOSUCH not found"]
    listed = (await client.get(f"{base}/subscribers", headers=admin.headers)).json()
    assert {(item["subscriber_type"], item["subscriber_id"]) for item in listed["subscribers"]
            } == {("user", direct.user.id), ("team", team.id)}  # the refused batch added no one
    assert {item["has_indirect_subscription"] for item in listed["subscribers"]} == {False}
    assert (listed["limit"], listed["offset"], listed["more"]) == (25, 0, False)

    # Someone joins the team after it subscribed: the team is expanded when an update is sent.
    async with db.transaction() as session:
        session.add(TeamMembership(team_id=team.id, user_id=late.user.id, role="observer"))
    sent = await client.post(base, headers=writer_headers(admin), json={"message": "Update 1"})
    assert sent.json()["status_update"]["notified_count"] == 3
    first_id = sent.json()["status_update"]["id"]
    # `direct` is subscribed twice over (as a user, as a member) and notified once.
    assert await _deliveries(db, first_id) == {direct.user.id, member.user.id, late.user.id}

    removed = await client.post(f"{base}/unsubscribe", headers=admin.headers, json={
        "subscribers": [_team(team.id), _user(member)]})
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"deleted_count": 1, "unauthorized_count": 0,
                              "non_existent_count": 1}
    second = await client.post(base, headers=writer_headers(admin), json={"message": "Update 2"})
    assert second.json()["status_update"]["notified_count"] == 1
    assert await _deliveries(db, second.json()["status_update"]["id"]) == {direct.user.id}


async def test_who_may_read_and_change_status_updates_and_stakeholders(
    client: httpx.AsyncClient, make_actor,
) -> None:
    admin: Actor = await make_actor("admin")
    observer: Actor = await make_actor("observer")
    restricted: Actor = await make_actor("restricted")
    read_only: Actor = await make_actor("admin", read_only=True)
    incident = await _incident(client, admin)
    base = f"/api/incidents/{incident['id']}/status_updates"
    subscribers = {"subscribers": [_user(observer)]}

    for actor in (observer, read_only):
        assert (await client.post(base, headers=writer_headers(actor),
                                  json={"message": "x"})).status_code == 403
        assert (await client.post(f"{base}/subscribers", headers=actor.headers,
                                  json=subscribers)).status_code == 403
        assert (await client.post(f"{base}/unsubscribe", headers=actor.headers,
                                  json=subscribers)).status_code == 403
        assert (await client.get(base, headers=actor.headers)).status_code == 200
        assert (await client.get(f"{base}/subscribers", headers=actor.headers)).status_code == 200
    # A restricted user sees only the incidents they are assigned to: this one is a 404.
    assert (await client.get(base, headers=restricted.headers)).status_code == 404
    assert (await client.get(f"{base}/subscribers",
                             headers=restricted.headers)).status_code == 404


async def test_the_conference_bridge_is_set_shown_in_every_body_checked_and_cleared(
    client: httpx.AsyncClient, make_actor,
) -> None:
    admin: Actor = await make_actor("admin")
    bridge = {"conference_number": "+1 415-555-1212,,,,1234#",
              "conference_url": "https://meet.example/acb-123"}
    created = await _incident(client, admin, conference_bridge=bridge)
    assert created["conference_bridge"] == bridge
    url = f"/api/incidents/{created['id']}"
    assert (await client.get(url, headers=admin.headers)).json()["incident"][
        "conference_bridge"] == bridge
    listed = (await client.get("/api/incidents", headers=admin.headers)).json()["incidents"]
    assert [item["conference_bridge"] for item in listed] == [bridge]

    changed = await client.put(url, headers=writer_headers(admin), json={"incident": {
        "type": "incident_reference",
        "conference_bridge": {"conference_url": "http://bridge.example/room"}}})
    assert changed.status_code == 200, changed.text
    # The object is the whole bridge: a part left out is no longer set.
    assert changed.json()["incident"]["conference_bridge"] == {
        "conference_url": "http://bridge.example/room"}

    for bad in ({"conference_url": "javascript:alert(1)"}, {"conference_url": "bridge.example"},
                {"conference_url": "https://meet.example/a b"},
                {"conference_number": "call me maybe"}, {"conference_pin": "1234"}):
        refused = await client.put(url, headers=writer_headers(admin), json={"incident": {
            "type": "incident_reference", "conference_bridge": bad}})
        assert refused.status_code == 400, (bad, refused.text)
    assert (await client.get(url, headers=admin.headers)).json()["incident"][
        "conference_bridge"] == {"conference_url": "http://bridge.example/room"}

    cleared = await client.put(url, headers=writer_headers(admin), json={"incident": {
        "type": "incident_reference", "conference_bridge": None}})
    assert cleared.json()["incident"]["conference_bridge"] is None
    entries = (await client.get(f"{url}/log_entries", headers=admin.headers)).json()
    summaries = [entry["summary"] for entry in entries["log_entries"]
                 if entry["type"] == "conference_bridge_change_log_entry"]
    assert summaries == ["Conference bridge removed.",
                         "Conference bridge set to http://bridge.example/room.",
                         "Conference bridge set to +1 415-555-1212,,,,1234# "
                         "https://meet.example/acb-123."]
    # Clearing it again changes nothing and writes nothing.
    await client.put(url, headers=writer_headers(admin), json={"incident": {
        "type": "incident_reference", "conference_bridge": {}}})
    again = (await client.get(f"{url}/log_entries", headers=admin.headers)).json()
    assert len(again["log_entries"]) == len(entries["log_entries"])
