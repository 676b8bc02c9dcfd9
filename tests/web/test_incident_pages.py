"""The incident pages in-process: the list's filters (a shareable GET form, paging kept), its
polled table partial, bulk acknowledge and resolve, and the incident page's actions (note,
acknowledge, resolve, urgency, priority, reassign, responders) — each through the REST
views' functions and rules, each in the timeline, each refused as the API refuses it."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import update

from fireline.accounts import service as accounts
from fireline.core.db import Database
from fireline.incidents.models import Incident
from tests.conftest import Actor
from tests.incidents.helpers import create_incident, create_service, writer_headers
from tests.web.helpers import HTML, HTMX, PASSWORD, error_of, flash, sign_in


async def _incident(client: httpx.AsyncClient, actor: Actor, service_id: str, title: str,
                    **fields: Any) -> dict[str, Any]:
    created = await create_incident(client, actor, service_id, title, **fields)
    assert created.status_code == 201, created.text
    return created.json()["incident"]  # type: ignore[no-any-return]


async def _get(client: httpx.AsyncClient, actor: Actor, path: str) -> Any:
    response = await client.get(path, headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _assigned(*users: Actor) -> list[dict[str, Any]]:
    return [{"assignee": {"id": user.user.id, "type": "user_reference"}} for user in users]


def _titles(page: str) -> set[str]:
    return {html.unescape(title) for title in re.findall(
        r'<a href="/incidents/[^"]+">([^<]+)</a>', page)}


async def test_the_filters_narrow_the_list_and_paging_keeps_them(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin", password=PASSWORD)
    other: Actor = await make_actor("responder")
    async with db.transaction() as session:
        team = await accounts.create_team(session=session, name="Payments")
    checkout = await create_service(client, admin, "Checkout", teams=[{"id": team.id}])
    search = await create_service(client, admin, "Search")
    mine = await _incident(client, admin, checkout["id"], "Card declines",
                           assignments=_assigned(admin))
    low = await _incident(client, admin, search["id"], "Slow suggestions", urgency="low",
                          assignments=_assigned(other))
    acked = await _incident(client, admin, search["id"], "Index lag",
                            assignments=_assigned(other))
    old = await _incident(client, admin, checkout["id"], "Last quarter's outage",
                          assignments=_assigned(admin))
    response = await client.put(f"/api/incidents/{acked['id']}", headers=writer_headers(admin),
                                json={"incident": {"status": "acknowledged"}})
    assert response.status_code == 200, response.text
    long_ago = datetime.now(UTC) - timedelta(days=40)
    async with db.transaction() as session:
        await session.execute(update(Incident).where(Incident.id == old["id"])
                              .values(created_at=long_ago))
    await sign_in(client, admin.user.email)

    async def titles(query: str) -> set[str]:
        page = await client.get(f"/incidents?{query}", headers=HTML)
        assert page.status_code == 200, page.text
        return _titles(page.text)

    recent = {"Card declines", "Slow suggestions", "Index lag"}
    assert await titles("") == recent  # PagerDuty's default: the last 30 days
    default = (await client.get("/incidents", headers=HTML)).text
    assert 'name="since" value=""' in default  # a window that moves on, not a date
    assert await titles("date_range=all") == recent | {"Last quarter's outage"}
    assert await titles("status=triggered") == {"Card declines", "Slow suggestions"}
    assert await titles("status=acknowledged&status=resolved") == {"Index lag"}
    assert await titles("urgency=low") == {"Slow suggestions"}
    assert await titles("urgency=high&urgency=low") == recent
    assert await titles(f"service_id={search['id']}") == {"Slow suggestions", "Index lag"}
    assert await titles(f"team_id={team.id}&date_range=all") == {
        "Card declines", "Last quarter's outage"}
    assert await titles("assigned=me") == {"Card declines"}
    day = timedelta(days=1)
    assert await titles(f"since={(long_ago - day):%Y-%m-%dT%H:%M}"
                        f"&until={(long_ago + day):%Y-%m-%dT%H:%M}") == {
        "Last quarter's outage"}
    assert await titles(f"since={quote((long_ago + day).isoformat())}") == recent

    # The form's empty fields are "any".
    plain = await titles("status=triggered&service_id=&team_id=&since=&until=")
    assert plain == {"Card declines", "Slow suggestions"}

    page = (await client.get(f"/incidents?urgency=high&service_id={checkout['id']}",
                             headers=HTML)).text
    assert 'name="urgency" value="high" checked' in page
    assert f'<option value="{checkout["id"]}" selected>Checkout</option>' in page
    assert re.search(r'<label for="filter-service">Service</label>', page)

    first = (await client.get("/incidents?urgency=high&limit=1", headers=HTML)).text
    assert _titles(first) == {"Index lag"}
    older_url = html.unescape(re.search(r'href="([^"]+)" rel="next">Older', first)[1])  # type: ignore[index]
    assert older_url == "/incidents?urgency=high&offset=1&limit=1"
    assert _titles((await client.get(older_url, headers=HTML)).text) == {"Card declines"}
    assert mine["id"] and low["id"]


async def test_a_bad_date_is_a_message_beside_its_field_not_an_error(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin", password=PASSWORD)
    service = await create_service(client, admin)
    await _incident(client, admin, service["id"], "Disk full")
    await sign_in(client, admin.user.email)

    page = await client.get("/incidents?since=yesterday&until=2024-02-30T10:00", headers=HTML)
    assert page.status_code == 400
    assert "Write a date and time" in (error_of(page.text, "since") or "")
    assert "day value is outside expected range" in (error_of(page.text, "until") or "")
    assert 'value="yesterday"' in page.text  # what was typed stays
    assert "Disk full" not in page.text and 'hx-trigger="every 5s"' not in page.text

    polled = await client.get("/incidents?since=yesterday", headers=HTMX)
    assert polled.status_code == 400 and "<html" not in polled.text


async def test_htmx_gets_the_table_alone_and_a_new_incident_appears_in_it(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin", password=PASSWORD)
    service = await create_service(client, admin)
    await _incident(client, admin, service["id"], "Disk full")
    await sign_in(client, admin.user.email)

    page = (await client.get("/incidents?status=triggered", headers=HTML)).text
    poll = re.search(r'<div id="incident-table" hx-get="([^"]+)" hx-trigger="every 5s" '
                     r'hx-swap="outerHTML" hx-disinherit="\*">', page)
    assert poll and html.unescape(poll[1]) == "/incidents?status=triggered"
    assert re.search(r'<input type="checkbox" name="incident_id" value="\w+" '
                     r'id="choose-\w+" hx-preserve', page)

    await _incident(client, admin, service["id"], "CPU hot")
    partial = await client.get(html.unescape(poll[1]), headers=HTMX)
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith("<div id=\"incident-table\"")
    assert "<html" not in partial.text and "Filters" not in partial.text
    assert _titles(partial.text) >= {"Disk full", "CPU hot"}


async def test_bulk_acknowledge_changes_the_chosen_incidents_only(
    client: httpx.AsyncClient, make_actor
) -> None:
    responder: Actor = await make_actor("responder", password=PASSWORD)
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    chosen = [await _incident(client, admin, service["id"], f"Fire {n}") for n in (1, 2)]
    untouched = await _incident(client, admin, service["id"], "Fire 3")
    done = await _incident(client, admin, service["id"], "Fire 4")
    await client.put(f"/api/incidents/{done['id']}", headers=writer_headers(admin),
                     json={"incident": {"status": "resolved"}})
    csrf = await sign_in(client, responder.user.email)
    back = "/incidents?status=triggered&urgency=high"

    answer = await client.post("/incidents/bulk", data={
        "csrf_token": csrf, "status": "acknowledged", "back": back,
        "incident_id": [item["id"] for item in chosen]})
    assert answer.status_code == 303 and answer.headers["location"] == back
    page = (await client.get(back, headers=HTML)).text
    assert flash(page) == "success: Acknowledged 2 incidents."
    assert _titles(page) == {"Fire 3"}  # the filtered list, without the acknowledged ones
    listed = await _get(client, admin, "/api/incidents")
    statuses = {item["id"]: item["status"] for item in listed["incidents"]}
    assert [statuses[item["id"]] for item in chosen] == ["acknowledged", "acknowledged"]
    assert statuses[untouched["id"]] == "triggered"
    entries = await _get(client, admin, f"/api/incidents/{chosen[0]['id']}/log_entries")
    assert "acknowledge_log_entry" in [entry["type"] for entry in entries["log_entries"]]

    # One that cannot change is named; the others change anyway.
    mixed = await client.post("/incidents/bulk", follow_redirects=True, headers=HTML, data={
        "csrf_token": csrf, "status": "acknowledged", "back": "https://evil.example/",
        "incident_id": [untouched["id"], done["id"], chosen[0]["id"], "PNOSUCH"]})
    assert str(mixed.url).endswith("/incidents")  # only ever back to the list
    assert flash(mixed.text) == (
        f"error: Acknowledged 1 incident. 1 incident already acknowledged. Not changed: "
        f"#{done['incident_number']} (Incident Already Resolved), PNOSUCH (not found).")
    resolved = await client.post("/incidents/bulk", follow_redirects=True, headers=HTML, data={
        "csrf_token": csrf, "status": "resolved", "incident_id": [untouched["id"]]})
    assert flash(resolved.text) == "success: Resolved 1 incident."
    nothing = await client.post("/incidents/bulk", follow_redirects=True, headers=HTML, data={
        "csrf_token": csrf, "status": "resolved"})
    assert flash(nothing.text) == "error: Choose the incidents to mark resolved first."


async def test_roles_that_may_not_change_incidents_see_no_actions_and_are_refused(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    observer: Actor = await make_actor("observer", password=PASSWORD)
    restricted: Actor = await make_actor("restricted", password=PASSWORD)
    service = await create_service(client, admin)
    incident = await _incident(client, admin, service["id"], "Disk full",
                               assignments=_assigned(restricted))
    posts = {"/incidents/bulk": {"status": "acknowledged", "incident_id": incident["id"]},
             f"/incidents/{incident['id']}/notes": {"content": "Looking"},
             f"/incidents/{incident['id']}/status": {"status": "resolved"},
             f"/incidents/{incident['id']}/assign": {"user_id": admin.user.id},
             f"/incidents/{incident['id']}/urgency": {"urgency": "low"},
             f"/incidents/{incident['id']}/priority": {"priority_id": ""},
             f"/incidents/{incident['id']}/responders": {"user_id": admin.user.id}}
    for viewer in (observer, restricted):
        csrf = await sign_in(client, viewer.user.email)
        listed = (await client.get("/incidents", headers=HTML)).text
        assert "Disk full" in listed
        assert 'action="/incidents/bulk"' not in listed and 'name="incident_id"' not in listed
        page = (await client.get(f"/incidents/{incident['id']}", headers=HTML)).text
        assert "Disk full" in page and 'method="post" action="/incidents/' not in page
        for path, data in posts.items():
            refused = await client.post(path, headers=HTML, data={"csrf_token": csrf, **data})
            assert refused.status_code == 403, (viewer.user.role, path)
            assert "Your role may not change incidents" in refused.text
    shown = (await _get(client, admin, f"/api/incidents/{incident['id']}"))["incident"]
    assert shown["status"] == "triggered" and shown["urgency"] == "high"
    notes = await _get(client, admin, f"/api/incidents/{incident['id']}/notes")
    assert notes["notes"] == []


async def test_each_action_changes_the_incident_and_shows_in_the_timeline(
    client: httpx.AsyncClient, make_actor
) -> None:
    responder: Actor = await make_actor("responder", password=PASSWORD)
    admin: Actor = await make_actor("admin")
    helper: Actor = await make_actor("observer")
    service = await create_service(client, admin)
    incident = await _incident(client, admin, service["id"], "Disk full",
                               assignments=_assigned(admin))
    url = f"/incidents/{incident['id']}"
    csrf = await sign_in(client, responder.user.email)
    page = (await client.get(url, headers=HTML)).text
    for action in ("notes", "status", "assign", "urgency", "priority", "responders"):
        assert f'action="{url}/{action}"' in page, action
    assert '<button type="submit" name="status" value="acknowledged">Acknowledge' in page
    assert 'name="csrf_token"' in page
    p1 = re.search(r'<option value="(\w+)">P1 \(Critical\)</option>', page)
    assert p1, page

    async def act(action: str, **data: Any) -> str:
        answer = await client.post(f"{url}/{action}", data={"csrf_token": csrf, **data})
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == url
        return (await client.get(url, headers=HTML)).text

    steps: list[tuple[str, dict[str, Any], str, str]] = [
        ("notes", {"content": "  Freed 20 GB in /var/log \n"}, "Note added.", "Note added"),
        ("urgency", {"urgency": "low"}, "Urgency is low.", "Urgency changed"),
        ("priority", {"priority_id": p1[1]}, "Priority is P1.", "Priority changed"),
        ("assign", {"user_id": [responder.user.id, helper.user.id]},
         "Assigned to Responder User, Observer User.", "Assigned"),
        ("responders", {"user_id": admin.user.id, "message": "Need a DBA"},
         "Requested Admin User as responders.", "Responders requested"),
        ("status", {"status": "acknowledged"},
         f"Acknowledged #{incident['incident_number']}.", "Acknowledged"),
        ("status", {"status": "resolved"},
         f"Resolved #{incident['incident_number']}.", "Resolved"),
    ]
    for action, data, message, label in steps:
        shown = await act(action, **data)
        assert flash(shown) == f"success: {message}", action
        assert f"<strong>{label}</strong>" in shown, action

    body = (await _get(client, admin, f"/api/incidents/{incident['id']}"))["incident"]
    assert body["status"] == "resolved" and body["urgency"] == "low"
    assert body["priority"]["summary"] == "P1"
    assert {item["assignee"]["id"] for item in body["assignments"]} == {
        responder.user.id, helper.user.id, admin.user.id}
    notes = await _get(client, admin, f"/api/incidents/{incident['id']}/notes")
    assert [note["content"] for note in notes["notes"]] == ["Freed 20 GB in /var/log"]
    entries = await _get(client, admin,
                         f"/api/incidents/{incident['id']}/log_entries?limit=100")
    by_type = {entry["type"]: entry for entry in entries["log_entries"]}
    assert by_type["responder_request_log_entry"]["agent"]["id"] == responder.user.id
    assert by_type["resolve_log_entry"]["channel"]["type"] == "website"

    final = (await client.get(url, headers=HTML)).text  # what is left to do once resolved
    assert f'action="{url}/status"' not in final and f'action="{url}/responders"' not in final
    assert f'action="{url}/notes"' in final
    cleared = await act("priority", priority_id="")
    assert flash(cleared) == "success: The priority is removed."


async def test_refused_input_comes_back_beside_its_field_with_what_was_typed(
    client: httpx.AsyncClient, make_actor
) -> None:
    responder: Actor = await make_actor("responder", password=PASSWORD)
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    incident = await _incident(client, admin, service["id"], "Disk full",
                               assignments=_assigned(admin))
    url = f"/incidents/{incident['id']}"
    csrf = await sign_in(client, responder.user.email)

    async def refused(action: str, **data: Any) -> str:
        answer = await client.post(f"{url}/{action}", headers=HTML,
                                   data={"csrf_token": csrf, **data})
        assert answer.status_code == 400, answer.text
        assert "Disk full" in answer.text  # the whole page again
        return answer.text

    empty = await refused("notes", content="   ")
    assert error_of(empty, "note-content") == "Write the note first."
    assert 'aria-describedby="note-content-error"' in empty
    long_note = "Seen " + "x" * 65_536
    too_long = await refused("notes", content=long_note)
    assert "at most 65536 characters" in (error_of(too_long, "note-content") or "")
    assert f">{long_note}</textarea>" in too_long  # nothing lost

    unknown = await refused("assign", user_id=[admin.user.id, "PNOSUCH"])
    assert error_of(unknown, "assign-user_id") == "User PNOSUCH not found"
    assert error_of(await refused("assign"), "assign-user_id") == (
        "Choose who the incident is assigned to.")
    asked = await refused("responders", user_id="PNOSUCH", message="Need a DBA")
    assert error_of(asked, "responders-user_id") == "User PNOSUCH not found"
    assert ">Need a DBA</textarea>" in asked
    assert error_of(await refused("urgency", urgency="urgent"), "urgency-urgency") == (
        "Input should be 'high' or 'low'")
    assert "Priority PNOSUCH not found" in (
        error_of(await refused("priority", priority_id="PNOSUCH"), "priority-priority_id")
        or "")

    await client.put(f"/api/incidents/{incident['id']}", headers=writer_headers(admin),
                     json={"incident": {"status": "resolved"}})
    late = await refused("status", status="acknowledged")  # resolved meanwhile, elsewhere
    assert '<p class="form-error" role="alert">Incident Already Resolved</p>' in late

    shown = (await _get(client, admin, f"/api/incidents/{incident['id']}"))["incident"]
    assert [item["assignee"]["id"] for item in shown["assignments"]] == [admin.user.id]
    assert shown["urgency"] == "high" and shown["priority"] is None
    assert (await _get(client, admin, f"/api/incidents/{incident['id']}/notes"))["notes"] == []
