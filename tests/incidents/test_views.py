from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import Actor
from tests.incidents.helpers import (
    create_incident,
    create_integration,
    create_service,
    writer_headers,
)


async def test_services_created_by_managers_and_listed(client: httpx.AsyncClient,
                                                       make_actor) -> None:
    manager: Actor = await make_actor("manager")
    responder: Actor = await make_actor("responder")
    service = await create_service(client, manager, description="Payments",
                                   on_call_users=[{"id": responder.user.id,
                                                   "type": "user_reference"}])
    assert service["type"] == "service"
    assert service["self"] == f"http://testserver/api/services/{service['id']}"
    assert service["on_call_users"][0]["id"] == responder.user.id
    denied = await client.post("/api/services", headers=responder.headers,
                               json={"service": {"name": "Other"}})
    assert denied.status_code == 403
    listed = (await client.get("/api/services", headers=responder.headers)).json()
    assert [item["id"] for item in listed["services"]] == [service["id"]]
    assert listed["more"] is False and listed["total"] is None
    got = await client.get(f"/api/services/{service['id']}", headers=responder.headers)
    assert got.json()["service"]["description"] == "Payments"


async def test_integration_has_a_unique_32_hex_routing_key(client: httpx.AsyncClient,
                                                          make_actor) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    first = await create_integration(client, admin, service["id"])
    second = await create_integration(client, admin, service["id"])
    for integration in (first, second):
        key = integration["integration_key"]
        assert len(key) == 32 and int(key, 16) >= 0
    assert first["integration_key"] != second["integration_key"]
    got = await client.get(f"/api/services/{service['id']}/integrations/{first['id']}",
                           headers=admin.headers)
    assert got.json()["integration"]["type"] == "events_api_v2_inbound_integration"
    listed = await client.get(f"/api/services/{service['id']}", headers=admin.headers)
    assert {item["id"] for item in listed.json()["service"]["integrations"]} == {
        first["id"], second["id"]}


async def test_create_get_incident_in_pagerduty_shape(client: httpx.AsyncClient,
                                                      make_actor) -> None:
    admin: Actor = await make_actor("admin")
    responder: Actor = await make_actor("responder")
    service = await create_service(client, admin)
    priorities = (await client.get("/api/priorities", headers=admin.headers)).json()
    p2 = next(item for item in priorities["priorities"] if item["name"] == "P2")
    created = await create_incident(
        client, responder, service["id"], urgency="low",
        priority={"id": p2["id"], "type": "priority_reference"},
        body={"type": "incident_body", "details": "95% on /var"},
        assignments=[{"assignee": {"id": responder.user.id, "type": "user_reference"}}])
    assert created.status_code == 201, created.text
    incident = created.json()["incident"]
    assert incident["type"] == "incident"
    assert incident["status"] == "triggered"
    assert incident["urgency"] == "low"
    assert incident["priority"]["name"] == "P2"
    assert incident["body"]["details"] == "95% on /var"
    assert incident["summary"] == f"[#{incident['incident_number']}] Disk full"
    assert incident["assignments"][0]["assignee"]["id"] == responder.user.id
    assert incident["service"] == {
        "id": service["id"], "type": "service_reference", "summary": "Checkout",
        "self": service["self"], "html_url": service["html_url"]}
    got = await client.get(f"/api/incidents/{incident['id']}", headers={
        **admin.headers, "Accept": "application/vnd.pagerduty+json;version=2"})
    assert got.json()["incident"]["incident_number"] == incident["incident_number"]


async def test_from_header_is_required_for_writes_with_an_api_key(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    body = {"incident": {"type": "incident", "title": "x",
                         "service": {"id": service["id"], "type": "service_reference"}}}
    missing = await client.post("/api/incidents", headers=admin.headers, json=body)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == 2001
    assert "From" in missing.json()["error"]["errors"][0]
    unknown = await client.post("/api/incidents", json=body,
                                headers={**admin.headers, "From": "nobody@example.com"})
    assert unknown.status_code == 400


async def test_wf2_duplicate_open_incident_key_is_rejected(client: httpx.AsyncClient,
                                                           make_actor) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    first = await create_incident(client, admin, service["id"], incident_key="disk/web-1")
    assert first.status_code == 201
    second = await create_incident(client, admin, service["id"], incident_key="disk/web-1")
    assert second.status_code == 400
    assert second.json()["error"] == {
        "message": "Arguments Caused Error", "code": 2002,
        "errors": ["Open incident with matching dedup key already exists on this service"]}
    other = await create_service(client, admin, name="Search")
    assert (await create_incident(client, admin, other["id"],
                                  incident_key="disk/web-1")).status_code == 201
    resolve = await client.put(
        f"/api/incidents/{first.json()['incident']['id']}", headers=writer_headers(admin),
        json={"incident": {"type": "incident_reference", "status": "resolved"}})
    assert resolve.status_code == 200
    again = await create_incident(client, admin, service["id"], incident_key="disk/web-1")
    assert again.status_code == 201


async def test_incident_numbers_are_unique_under_concurrency(client: httpx.AsyncClient,
                                                             make_actor) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    responses = await asyncio.gather(*(
        create_incident(client, admin, service["id"], title=f"n{i}") for i in range(20)))
    numbers = sorted(response.json()["incident"]["incident_number"] for response in responses)
    assert numbers == list(range(numbers[0], numbers[0] + 20))


async def test_update_acknowledge_reassign_prioritize_resolve(client: httpx.AsyncClient,
                                                              make_actor) -> None:
    admin: Actor = await make_actor("admin")
    responder: Actor = await make_actor("responder")
    service = await create_service(client, admin)
    incident = (await create_incident(client, admin, service["id"])).json()["incident"]
    url = f"/api/incidents/{incident['id']}"
    headers = writer_headers(responder)
    ack = await client.put(url, headers=headers, json={"incident": {
        "type": "incident_reference", "status": "acknowledged"}})
    assert ack.json()["incident"]["status"] == "acknowledged"
    assert ack.json()["incident"]["acknowledgements"][0]["acknowledger"]["id"] == (
        responder.user.id)
    p1 = (await client.get("/api/priorities", headers=admin.headers)).json()["priorities"][0]
    changed = await client.put(url, headers=headers, json={"incident": {
        "type": "incident_reference", "title": "Disk really full", "urgency": "low",
        "priority": {"id": p1["id"], "type": "priority_reference"},
        "assignments": [{"assignee": {"id": admin.user.id, "type": "user_reference"}}]}})
    body = changed.json()["incident"]
    assert (body["title"], body["urgency"], body["priority"]["name"]) == (
        "Disk really full", "low", "P1")
    assert [item["assignee"]["id"] for item in body["assignments"]] == [admin.user.id]
    resolved = await client.put(url, headers=headers, json={"incident": {
        "type": "incident_reference", "status": "resolved", "resolution": "Rotated logs"}})
    assert resolved.json()["incident"]["status"] == "resolved"
    back = await client.put(url, headers=headers, json={"incident": {
        "type": "incident_reference", "status": "acknowledged"}})
    assert back.status_code == 400
    entries = (await client.get(f"{url}/log_entries", headers=admin.headers)).json()
    types = [entry["type"] for entry in reversed(entries["log_entries"])]
    assert types == ["trigger_log_entry", "acknowledge_log_entry", "urgency_change_log_entry",
                     "priority_change_log_entry", "assign_log_entry", "annotate_log_entry",
                     "resolve_log_entry"]
    notes = (await client.get(f"{url}/notes", headers=admin.headers)).json()["notes"]
    assert [note["content"] for note in notes] == ["Rotated logs"]


async def test_bulk_update(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    ids = [(await create_incident(client, admin, service["id"], title=f"t{i}")).json()[
        "incident"]["id"] for i in range(3)]
    response = await client.put("/api/incidents", headers=writer_headers(admin), json={
        "incidents": [{"id": id_, "type": "incident_reference", "status": "resolved"}
                      for id_ in ids]})
    assert response.status_code == 200, response.text
    assert {item["status"] for item in response.json()["incidents"]} == {"resolved"}


async def test_listed_incidents_match_their_single_reads(client: httpx.AsyncClient,
                                                        make_actor) -> None:
    """The list reads plain rows and the single read ORM objects: both render the same."""
    admin: Actor = await make_actor("admin")
    ana: Actor = await make_actor("responder")
    bo: Actor = await make_actor("responder")
    team = await _team(client, admin)
    service = await create_service(client, admin, teams=[{"id": team, "type": "team_reference"}])
    both = [{"assignee": {"id": actor.user.id, "type": "user_reference"}} for actor in (ana, bo)]
    await create_incident(client, admin, service["id"], title="two assignees", assignments=both,
                          priority={"id": "PPRIORITY0000P2", "type": "priority_reference"})
    await create_incident(client, admin, service["id"], title="none", assignments=[])
    await create_incident(client, admin, service["id"], title="one", assignments=both[1:])
    for include in ([], ["services", "assignees"]):
        listed = (await client.get("/api/incidents", headers=admin.headers,
                                   params={"include[]": include})).json()["incidents"]
        assert [item["title"] for item in listed] == ["two assignees", "none", "one"]
        for item in listed:
            single = (await client.get(f"/api/incidents/{item['id']}", headers=admin.headers,
                                       params={"include[]": include})).json()["incident"]
            single.pop("body")
            assert item == single
    assert [len(item["assignments"]) for item in listed] == [2, 0, 1]
    assert listed[0]["priority"]["name"] == "P2" and listed[0]["teams"][0]["id"] == team
    assert listed[0]["service"]["type"] == "service"  # include[]=services: the full service
    mine = (await client.get("/api/incidents", headers=admin.headers,
                             params={"user_ids[]": [bo.user.id]})).json()["incidents"]
    assert [item["title"] for item in mine] == ["two assignees", "one"]


async def test_list_filters_sorting_and_pagination(client: httpx.AsyncClient,
                                                   make_actor) -> None:
    admin: Actor = await make_actor("admin")
    team = await _team(client, admin)
    checkout = await create_service(client, admin, teams=[{"id": team, "type": "team_reference"}])
    search = await create_service(client, admin, name="Search")
    for i in range(4):
        await create_incident(client, admin, checkout["id"], title=f"c{i}",
                              urgency="high" if i % 2 else "low")
    await create_incident(client, admin, search["id"], title="s0")
    headers = admin.headers

    async def titles(**params: object) -> list[str]:
        response = await client.get("/api/incidents", headers=headers, params=params)
        assert response.status_code == 200, response.text
        return [item["title"] for item in response.json()["incidents"]]

    assert await titles(**{"service_ids[]": [search["id"]]}) == ["s0"]
    assert await titles(**{"team_ids[]": [team]}) == ["c0", "c1", "c2", "c3"]
    assert await titles(**{"urgencies[]": ["high"], "service_ids[]": [checkout["id"]]}) == [
        "c1", "c3"]
    assert await titles(sort_by="incident_number:desc") == ["s0", "c3", "c2", "c1", "c0"]
    assert await titles(**{"statuses[]": ["resolved"]}) == []
    assert await titles(since="2000-01-01T00:00:00Z", until="2001-01-01T00:00:00Z") == []
    page = (await client.get("/api/incidents", headers=headers,
                             params={"limit": 2, "offset": 2, "total": "true"})).json()
    assert [item["title"] for item in page["incidents"]] == ["c2", "c3"]
    assert (page["limit"], page["offset"], page["more"], page["total"]) == (2, 2, True, 5)
    last = (await client.get("/api/incidents", headers=headers,
                             params={"limit": 2, "offset": 4})).json()
    assert (last["more"], last["total"]) == (False, None)
    bad = await client.get("/api/incidents", headers=headers, params={"sort_by": "title"})
    assert bad.status_code == 400
    included = (await client.get("/api/incidents", headers=headers,
                                 params={"include[]": ["services"], "limit": 1})).json()
    assert included["incidents"][0]["service"]["type"] == "service"


async def _team(client: httpx.AsyncClient, admin: Actor) -> str:
    from fireline.accounts import service as accounts

    database = client._transport.app.state.database  # type: ignore[attr-defined]
    async with database.transaction() as session:
        team = await accounts.create_team(session=session, name="Payments")
    return team.id


async def test_notes(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    incident = (await create_incident(client, admin, service["id"])).json()["incident"]
    url = f"/api/incidents/{incident['id']}/notes"
    created = await client.post(url, headers=writer_headers(admin),
                                json={"note": {"content": "Looking at it"}})
    assert created.status_code == 201
    note = created.json()["note"]
    assert note["content"] == "Looking at it"
    assert note["user"]["id"] == admin.user.id and note["user"]["type"] == "user_reference"
    listed = (await client.get(url, headers=admin.headers)).json()["notes"]
    assert [item["id"] for item in listed] == [note["id"]]
    empty = await client.post(url, headers=writer_headers(admin), json={"note": {"content": ""}})
    assert empty.status_code == 400


async def test_log_entries_list_get_and_filters(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    incident = (await create_incident(client, admin, service["id"])).json()["incident"]
    entries = (await client.get("/api/log_entries", headers=admin.headers,
                                params={"include[]": ["incidents"]})).json()
    assert [entry["type"] for entry in entries["log_entries"]] == ["trigger_log_entry"]
    entry = entries["log_entries"][0]
    assert entry["agent"] == {"id": admin.user.id, "type": "user_reference",
                              "summary": admin.user.name, "self": admin_self(admin),
                              "html_url": f"http://testserver/users/{admin.user.id}"}
    assert entry["channel"]["type"] == "api"
    assert entry["incident"]["type"] == "incident"
    assert incident["first_trigger_log_entry"]["id"] == entry["id"]
    got = await client.get(f"/api/log_entries/{entry['id']}", headers=admin.headers)
    assert got.json()["log_entry"]["incident"]["id"] == incident["id"]
    future = await client.get("/api/log_entries", headers=admin.headers,
                              params={"since": "2999-01-01T00:00:00Z", "is_overview": "true"})
    assert future.json()["log_entries"] == []
    assert (await client.get("/api/log_entries/PNOPE", headers=admin.headers)).status_code == 404


def admin_self(actor: Actor) -> str:
    return f"http://testserver/api/users/{actor.user.id}"


async def test_permissions_by_role(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    observer: Actor = await make_actor("observer")
    reader: Actor = await make_actor("responder", read_only=True)
    restricted: Actor = await make_actor("restricted")
    service = await create_service(client, admin)
    mine = (await create_incident(client, admin, service["id"], title="mine", assignments=[
        {"assignee": {"id": restricted.user.id, "type": "user_reference"}}])).json()["incident"]
    other = (await create_incident(client, admin, service["id"], title="other")).json()[
        "incident"]
    for actor in (observer, reader, restricted):
        denied = await create_incident(client, actor, service["id"], title="nope")
        assert denied.status_code == 403, actor.user.role
        note = await client.post(f"/api/incidents/{mine['id']}/notes",
                                 headers=writer_headers(actor), json={"note": {"content": "x"}})
        assert note.status_code == 403
    observed = (await client.get("/api/incidents", headers=observer.headers)).json()
    assert len(observed["incidents"]) == 2
    seen = (await client.get("/api/incidents", headers=restricted.headers)).json()
    assert [item["id"] for item in seen["incidents"]] == [mine["id"]]
    hidden = await client.get(f"/api/incidents/{other['id']}", headers=restricted.headers)
    assert hidden.status_code == 404
    logs = (await client.get("/api/log_entries", headers=restricted.headers)).json()
    assert {entry["incident"]["id"] for entry in logs["log_entries"]} == {mine["id"]}


async def test_from_header_of_a_non_admin_cannot_impersonate(client: httpx.AsyncClient,
                                                             make_actor) -> None:
    admin: Actor = await make_actor("admin")
    responder: Actor = await make_actor("responder")
    service = await create_service(client, admin)
    as_admin = await client.post("/api/incidents", headers={
        **responder.headers, "From": admin.user.email}, json={"incident": {
            "type": "incident", "title": "t",
            "service": {"id": service["id"], "type": "service_reference"}}})
    incident = as_admin.json()["incident"]
    assert incident["last_status_change_by"]["id"] == responder.user.id
    by_admin = await client.post("/api/incidents", headers={
        **admin.headers, "From": responder.user.email}, json={"incident": {
            "type": "incident", "title": "t2",
            "service": {"id": service["id"], "type": "service_reference"}}})
    assert by_admin.json()["incident"]["last_status_change_by"]["id"] == responder.user.id


async def test_users_teams_and_priorities(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    for i in range(3):
        await make_actor("responder", email=f"zed{i}@example.com")
    users = (await client.get("/api/users", headers=admin.headers,
                              params={"query": "zed", "limit": 2, "total": "true"})).json()
    assert [user["email"] for user in users["users"]] == ["zed0@example.com",
                                                          "zed1@example.com"] or len(
        users["users"]) == 2
    assert (users["more"], users["total"]) == (True, 3)
    team = await _team(client, admin)
    teams = (await client.get("/api/teams", headers=admin.headers)).json()
    assert [item["id"] for item in teams["teams"]] == [team]
    got = await client.get(f"/api/teams/{team}", headers=admin.headers)
    assert got.json()["team"]["name"] == "Payments"
    priorities = (await client.get("/api/priorities", headers=admin.headers)).json()
    assert [item["name"] for item in priorities["priorities"]] == ["P1", "P2", "P3", "P4", "P5"]


async def test_validation_errors_are_pagerduty_shaped(client: httpx.AsyncClient,
                                                      make_actor) -> None:
    admin: Actor = await make_actor("admin")
    response = await client.post("/api/incidents", headers=writer_headers(admin),
                                 json={"incident": {"type": "incident", "titel": "typo"}})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 2001 and error["errors"]
    missing = await client.get("/api/incidents/PNOPE", headers=admin.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 2100


async def test_nul_characters_in_input_are_a_400_not_a_500(client: httpx.AsyncClient,
                                                           make_actor) -> None:
    admin = await make_actor("admin")
    response = await create_incident(client, admin, "\x00\xda")
    assert response.status_code in {400, 404}, response.text  # PostgreSQL 400, SQLite 404
    listed = await client.get("/api/teams", params={"query": "}\x00"}, headers=admin.headers)
    assert listed.status_code in {200, 400}, listed.text


@pytest.mark.parametrize("query", [
    "/api/incidents?since=0001-01-01T00:00:00%2B01:00",
    "/api/incidents?until=9999-12-31T23:59:59-01:00",
    "/api/log_entries?since=0001-01-01T00:00:00%2B14:00",
])
async def test_dates_at_the_calendars_ends_are_ranges_not_errors(
    client: httpx.AsyncClient, make_actor, query: str
) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    assert (await create_incident(client, admin, service["id"])).status_code == 201
    answer = await client.get(query, headers=admin.headers)
    assert answer.status_code == 200, answer.text
    listed = answer.json()
    assert len(listed["incidents" if "incidents" in query else "log_entries"]) >= 1


async def test_an_escalation_policy_on_a_new_service_is_a_clear_400(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    refused = await client.post("/api/services", headers=admin.headers, json={"service": {
        "name": "Checkout", "escalation_policy": {"id": "PPOLICY",
                                                  "type": "escalation_policy_reference"}}})
    assert refused.status_code == 400
    [error] = refused.json()["error"]["errors"]
    assert error.startswith("service.escalation_policy: Fireline has no escalation policies")
    assert "Value error" not in error
    listed = await client.get("/api/services", headers=admin.headers)
    assert listed.json()["services"] == []
