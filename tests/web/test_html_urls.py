"""Every `html_url` the REST API returns is a page a signed-in browser can open, showing the
same things (and hiding the same things) the API shows that user."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from markupsafe import escape

from fireline.core.db import Database
from fireline.incidents import timeline
from fireline.web.incidents import TIMELINE_PAGE
from fireline.workflows.engine import Engine
from tests.conftest import BASE_URL, Actor
from tests.incidents.helpers import (
    create_incident,
    create_integration,
    create_service,
    writer_headers,
)

PASSWORD = "a long enough password"
HTML = {"Accept": "text/html"}
NOT_OURS = ("/users/", "/teams/")  # pages built elsewhere


@dataclass
class World:
    """What the REST API made: a service with an Events API integration, an incident from
    the API (with a note and a finished workflow run) and one from `/v2/enqueue`."""

    admin: Actor
    service: dict[str, Any]
    integration: dict[str, Any]
    incident: dict[str, Any]
    enqueued: dict[str, Any]
    workflow: dict[str, Any]
    run_id: str
    answers: list[Any]  # every API answer read while making it


async def api(client: httpx.AsyncClient, actor: Actor, method: str, path: str,
              **kwargs: Any) -> Any:
    response = await client.request(method, path, headers=writer_headers(actor), **kwargs)
    assert response.status_code < 300, response.text
    return response.json()


async def make_world(client: httpx.AsyncClient, make_actor, app) -> World:  # type: ignore[no-untyped-def]
    admin: Actor = await make_actor("admin", email="admin@example.com", password=PASSWORD)
    service = await create_service(client, admin, "Checkout", description="Takes the money",
                                   on_call_users=[{"id": admin.user.id, "type": "user"}])
    integration = await create_integration(client, admin, service["id"])
    created = await create_incident(client, admin, service["id"], "Disk full on web-1")
    assert created.status_code == 201, created.text
    incident = created.json()["incident"]
    event = {"routing_key": integration["integration_key"], "event_action": "trigger",
             "payload": {"summary": "CPU hot on db-2", "source": "db-2", "severity": "error"}}
    assert (await client.post("/v2/enqueue", json=event)).status_code == 202
    answers: list[Any] = [{"service": service}, {"integration": integration}, created.json()]
    answers.append(await api(client, admin, "POST", f"/api/incidents/{incident['id']}/notes",
                             json={"note": {"content": "Freed 20 GB in /var/log"}}))
    workflow = (await api(client, admin, "POST", "/api/incident_workflows", json={
        "incident_workflow": {"name": "Note it", "description": "Says it saw the incident",
                              "steps": [{"id": "note", "action": "fireline.add_note",
                                         "with": {"content": "Seen: {{ incident.title }}"}}]},
    }))["incident_workflow"]
    instance = {"incident_workflow_instance": {"incident": {"id": incident["id"]}}}
    started = await api(client, admin, "POST",
                        f"/api/incident_workflows/{workflow['id']}/instances", json=instance)
    answers += [{"incident_workflow": workflow}, started]
    await Engine(db=app.state.database, tools=app.state.tools).drain()
    listed = await api(client, admin, "GET", "/api/incidents")
    enqueued = next(item for item in listed["incidents"] if item["title"] == "CPU hot on db-2")
    return World(admin, service, integration, incident, enqueued, workflow,
                 started["incident_workflow_instance"]["id"], [*answers, listed])


async def api_answers(client: httpx.AsyncClient, world: World) -> list[Any]:
    """The API's answers about everything in `world`: lists, details, timelines, runs."""
    service_id, workflow_id = world.service["id"], world.workflow["id"]
    paths = [
        "/api/incidents?include[]=services", "/api/services", "/api/incident_workflows",
        "/api/incident_workflows/triggers", f"/api/services/{service_id}",
        f"/api/services/{service_id}/integrations/{world.integration['id']}",
        f"/api/incident_workflows/{workflow_id}", f"/api/incident_workflows/{workflow_id}/runs",
        f"/api/incident_workflow_runs/{world.run_id}",
        "/api/log_entries?include[]=incidents&include[]=services&limit=100",
    ]
    for incident in (world.incident, world.enqueued):
        paths += [f"/api/incidents/{incident['id']}", f"/api/incidents/{incident['id']}/notes",
                  f"/api/incidents/{incident['id']}/log_entries?limit=100"]
    answers = [await api(client, world.admin, "GET", path) for path in paths]
    entry_ids = {entry["id"] for answer in answers for entry in answer.get("log_entries", [])}
    return answers + [await api(client, world.admin, "GET", f"/api/log_entries/{id_}")
                      for id_ in sorted(entry_ids)]


def html_urls(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*map(html_urls, value))
    if not isinstance(value, dict):
        return set()
    found = {value["html_url"]} if isinstance(value.get("html_url"), str) else set()
    return found.union(*map(html_urls, value.values()))


async def sign_in(client: httpx.AsyncClient, actor: Actor) -> None:
    response = await client.post("/login", data={"email": actor.user.email,
                                                 "password": PASSWORD})
    assert response.status_code == 303, response.text


async def page(client: httpx.AsyncClient, path: str) -> httpx.Response:
    return await client.get(path, headers=HTML, follow_redirects=True)


async def test_every_html_url_in_the_apis_answers_opens_its_page(
    client: httpx.AsyncClient, make_actor, app
) -> None:
    world = await make_world(client, make_actor, app)
    answers = world.answers + await api_answers(client, world)
    entries = {entry["id"]: entry for answer in answers
               for entry in answer.get("log_entries", [answer.get("log_entry")]) if entry}
    # What each page must show: its resource's name or title.
    expected = {
        f"/incidents/{item['id']}": item["title"] for item in (world.incident, world.enqueued)
    } | {
        f"/services/{world.service['id']}": world.service["name"],
        f"/services/{world.service['id']}/integrations/{world.integration['id']}":
            world.integration["name"],
        f"/incident_workflows/{world.workflow['id']}": world.workflow["name"],
    } | {f"/log_entries/{id_}": entry["summary"] for id_, entry in entries.items()}

    paths = set()
    for url in html_urls(answers):
        assert url.startswith(BASE_URL + "/"), url
        paths.add(urlsplit(url).path)
    walked = {path for path in paths if not path.startswith(NOT_OURS)}
    # An html_url of a kind this test does not know is a page nobody built yet.
    assert walked <= expected.keys(), walked - expected.keys()
    assert {path.split("/")[1] for path in walked} == {
        "incidents", "services", "log_entries", "incident_workflows"}
    assert any("/integrations/" in path for path in walked)
    assert sum(path.startswith("/log_entries/") for path in walked) >= 6

    observer: Actor = await make_actor("observer", password=PASSWORD)
    await sign_in(client, observer)  # the least a role can be and still see everything
    for path in sorted(walked):
        response = await page(client, path)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"].startswith("text/html")
        assert str(escape(expected[path])) in response.text, path
        if path.startswith("/log_entries/"):
            entry_id = path.rsplit("/", 1)[1]
            assert response.history[0].status_code == 303
            assert response.history[0].headers["location"].endswith(f"#log-entry-{entry_id}")
            assert f'id="log-entry-{entry_id}"' in response.text


async def test_pages_show_what_the_api_shows(
    client: httpx.AsyncClient, make_actor, app
) -> None:
    world = await make_world(client, make_actor, app)
    await sign_in(client, world.admin)
    incident_id = world.incident["id"]
    shown = (await api(client, world.admin, "GET", f"/api/incidents/{incident_id}"))["incident"]
    entries = (await api(client, world.admin, "GET",
                         f"/api/incidents/{incident_id}/log_entries?limit=100"))["log_entries"]

    detail = (await page(client, f"/incidents/{incident_id}")).text
    assert f"Incident #{shown['incident_number']}" in detail
    assert ">triggered</span>" in detail and shown["urgency"] in detail
    assert f'href="/services/{world.service["id"]}">Checkout</a>' in detail
    assert [item["assignee"]["id"] for item in shown["assignments"]] == [world.admin.user.id]
    assert f'href="/users/{world.admin.user.id}">Admin User</a>' in detail
    assert "Freed 20 GB in /var/log" in detail and "Seen: Disk full on web-1" in detail
    assert len(re.findall(r'<tr id="log-entry-', detail)) == len(entries)
    assert f'href="/incident_workflows/{world.workflow["id"]}">Note it</a>' in detail

    service = (await page(client, f"/services/{world.service['id']}")).text
    assert "Takes the money" in service and "Events API v2" in service
    assert world.integration["integration_key"] in service
    assert f'href="/incidents/{incident_id}"' in service
    assert f'href="/incidents/{world.enqueued["id"]}"' in service
    listed = (await page(client, "/services")).text
    assert re.search(r"Checkout</a></td>\s*<td>Takes the money</td>.*?<td>2</td>", listed,
                     re.DOTALL)

    integration = (await page(client, world.integration["html_url"])).text
    example = html.unescape(re.search(r"<pre><code>(.*?)</code></pre>", integration,
                                      re.DOTALL).group(1))  # type: ignore[union-attr]
    assert example.startswith(f"curl -s {BASE_URL}/v2/enqueue ")
    assert f'"routing_key": "{world.integration["integration_key"]}"' in example

    workflow = (await page(client, f"/incident_workflows/{world.workflow['id']}")).text
    assert "<code>note</code>" in workflow and "<code>fireline.add_note</code>" in workflow
    assert ">succeeded</span>" in workflow
    assert f'href="/incidents/{incident_id}">#{shown["incident_number"]} Disk full' in workflow
    workflows = (await page(client, "/incident_workflows")).text
    assert "Note it</a>" in workflows and "Manual" in workflows and ">enabled<" in workflows

    search = (await api(client, world.admin, "POST", "/api/incident_workflows", json={
        "incident_workflow": {"name": "Search logs", "enabled": False, "trigger": {
            "type": "conditional", "on": ["incident.triggered"],
            "condition": "incident.urgency == 'high'", "services": [world.service["id"]]},
            "steps": [{"id": "logs", "action": "elasticsearch.search_logs", "with": {
                "index_pattern": "logs-*", "query_type": "kql", "query": "level:error"}}]},
    }))["incident_workflow"]
    conditional = (await page(client, f"/incident_workflows/{search['id']}")).text
    assert "When incident.triggered" in conditional and ">disabled<" in conditional
    assert "incident.urgency == &#39;high&#39;" in conditional
    assert "Elasticsearch: the default connection" in conditional
    assert f'href="/services/{world.service["id"]}">Checkout</a>' in conditional
    assert "has not run yet" in conditional


async def test_the_incident_list_filters_by_status_and_pages_older_and_newer(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin", password=PASSWORD)
    service = await create_service(client, admin)
    ids = []
    for title in ("First fire", "Second fire", "Third fire"):
        created = await create_incident(client, admin, service["id"], title)
        ids.append(created.json()["incident"]["id"])
    await api(client, admin, "PUT", f"/api/incidents/{ids[0]}",
              json={"incident": {"type": "incident_reference", "status": "resolved"}})
    await sign_in(client, admin)

    newest = (await page(client, "/incidents?limit=2")).text
    assert newest.index("Third fire") < newest.index("Second fire")
    assert "First fire" not in newest and 'rel="prev"' not in newest
    older_url = html.unescape(re.search(r'href="([^"]+)" rel="next">Older', newest)
                              .group(1))  # type: ignore[union-attr]
    older = (await page(client, older_url)).text
    assert "First fire" in older and "Second fire" not in older and 'rel="next"' not in older
    assert re.search(r'href="/incidents\?limit=2" rel="prev">Newer', older)

    resolved = (await page(client, "/incidents?status=resolved")).text
    assert "First fire" in resolved and "Third fire" not in resolved
    assert re.search(r'href="/incidents\?status=resolved" aria-current="page"', resolved)
    triggered = (await page(client, "/incidents?status=triggered")).text
    assert "Second fire" in triggered and "First fire" not in triggered
    assert (await page(client, "/incidents?status=sleeping")).status_code == 400


async def test_a_log_entry_past_the_first_timeline_page_opens_that_page(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin", password=PASSWORD)
    service = await create_service(client, admin)
    incident = (await create_incident(client, admin, service["id"])).json()["incident"]
    first = incident["first_trigger_log_entry"]["id"]
    later = datetime.now(UTC) + timedelta(minutes=1)
    async with db.transaction() as session:  # a full page of newer entries, quickly
        for number in range(TIMELINE_PAGE):
            await timeline.insert(
                session=session, incident=timeline.IncidentKeys(incident["id"], service["id"]),
                type_="annotate_log_entry", agent=timeline.Agent.user(admin.user),
                summary=f"Update {number}", at=later + timedelta(seconds=number))
    await sign_in(client, admin)

    newest = await page(client, f"/incidents/{incident['id']}")
    assert "Update 99" in newest.text and f'id="log-entry-{first}"' not in newest.text
    assert "Earlier entries" in newest.text and "Later entries" not in newest.text
    opened = await page(client, f"/log_entries/{first}")
    assert opened.history[0].headers["location"] == (
        f"/incidents/{incident['id']}?timeline_offset={TIMELINE_PAGE}#log-entry-{first}")
    assert f'id="log-entry-{first}"' in opened.text and "Update 99" not in opened.text
    assert "Later entries" in opened.text and "Earlier entries" not in opened.text


async def test_signed_out_pages_send_the_browser_to_sign_in_and_back(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin", password=PASSWORD)
    service = await create_service(client, admin, "Search")
    response = await client.get(f"/services/{service['id']}", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fservices%2F{service['id']}"
    back = await client.post("/login", data={"email": admin.user.email, "password": PASSWORD,
                                             "next": f"/services/{service['id']}"})
    assert back.headers["location"] == f"/services/{service['id']}"
    assert "Search" in (await page(client, back.headers["location"])).text


async def test_unknown_and_hidden_things_are_the_404_page(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    restricted: Actor = await make_actor("restricted", password=PASSWORD)
    service = await create_service(client, admin)
    integration = await create_integration(client, admin, service["id"])
    other = await create_service(client, admin, "Other")
    hidden = (await create_incident(client, admin, service["id"], "Not yours")).json()["incident"]
    mine = (await create_incident(client, admin, service["id"], "Yours", assignments=[
        {"assignee": {"id": restricted.user.id, "type": "user_reference"}}])).json()["incident"]
    await sign_in(client, restricted)

    missing = ["/incidents/PNOSUCH", "/log_entries/PNOSUCH", "/services/PNOSUCH",
               f"/services/{service['id']}/integrations/PNOSUCH",
               f"/services/{other['id']}/integrations/{integration['id']}",
               "/incident_workflows/PNOSUCH",
               # The API answers 404 to a restricted user for an incident not assigned to
               # them, and for its log entries: so do the pages.
               f"/incidents/{hidden['id']}",
               f"/log_entries/{hidden['first_trigger_log_entry']['id']}"]
    for path in missing:
        response = await page(client, path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
        assert "Page not found" in response.text and "Not yours" not in response.text
    assert (await client.get(f"/api/incidents/{hidden['id']}",
                             headers=restricted.headers)).status_code == 404

    assert (await page(client, f"/incidents/{mine['id']}")).status_code == 200
    listed = (await page(client, "/incidents")).text
    assert "Yours" in listed and "Not yours" not in listed
    counted = (await page(client, "/services")).text
    assert re.search(r"Checkout</a></td>.*?<td>1</td>", counted, re.DOTALL)


async def test_the_routing_key_shows_exactly_where_the_api_shows_it(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    events = await create_integration(client, admin, service["id"])
    oauth_app = await api(client, admin, "POST", "/api/oauth_apps", json={"oauth_app": {
        "name": "VectorShift", "redirect_uris": ["https://app.example.com/callback"]}})
    added = await api(client, admin, "POST", f"/api/services/{service['id']}/integrations",
                      json={"integration": {"type": "app_integration", "vendor": {
                          "id": oauth_app["oauth_app"]["id"], "type": "vendor_reference"}}})
    app_integration = added["integration"]
    for role in ("responder", "observer", "restricted"):
        viewer: Actor = await make_actor(role, password=PASSWORD)
        await sign_in(client, viewer)
        shown_keys = {}
        for integration in (events, app_integration):
            api_path = integration["self"].removeprefix(BASE_URL)
            shown = (await api(client, viewer, "GET", api_path))["integration"]["integration_key"]
            shown_keys[integration["id"]] = shown
            text = (await page(client, integration["html_url"])).text
            assert ('id="routing-key"' in text) is (shown is not None), (role, integration)
            assert ("/v2/enqueue" in text) is (shown is not None), (role, integration)
            if shown is not None:
                assert f'<code id="routing-key">{shown}</code>' in text
        # The service's page lists its integrations with the same keys.
        service_page = (await page(client, f"/services/{service['id']}")).text
        assert (events["integration_key"] in service_page) is (
            shown_keys[events["id"]] is not None), role
    # The app's integration has no key for anyone: the API's null is the page's "none".
    assert app_integration["integration_key"] is None


async def test_titles_and_names_are_escaped(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin", password=PASSWORD)
    service = await create_service(client, admin, "<b>Bold</b> service")
    script = "<script>alert(1)</script>"
    created = await create_incident(client, admin, service["id"], script,
                                    body={"type": "incident_body", "details": script})
    incident = created.json()["incident"]
    await api(client, admin, "POST", f"/api/incidents/{incident['id']}/notes",
              json={"note": {"content": script}})
    await sign_in(client, admin)
    for path in ("/incidents", f"/incidents/{incident['id']}", f"/services/{service['id']}",
                 "/services"):
        text = (await page(client, path)).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text or path == "/services", path
        assert script not in text and "<b>Bold</b>" not in text, path
        assert "&lt;b&gt;Bold&lt;/b&gt; service" in text, path
