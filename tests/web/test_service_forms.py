"""The services forms in-process: adding a service and an Events API v2 integration in the
browser goes through the REST API's own checks — its schema (a refusal is the form again, 400,
each message beside its field) and its roles (a refusal is the 403 page)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select

from fireline.core.db import Database
from fireline.incidents.models import Service, ServiceIntegration
from tests.incidents.helpers import create_service
from tests.web.helpers import HTML, signed_in


def _error_of(page: str, input_id: str) -> str | None:
    """The error shown beside an input, provided the input points at it."""
    tag = re.search(rf'<input[^>]* id="{re.escape(input_id)}"[^>]*>', page)
    if tag is None or 'aria-invalid="true"' not in tag[0]:
        return None
    described = re.search(r'aria-describedby="([^"]*)"', tag[0])
    assert described and f"{input_id}-error" in described[1].split(), tag[0]
    found = re.search(rf'id="{re.escape(input_id)}-error">([^<]*)<', page)
    return found[1] if found else None


async def _count(db: Database, model: type[Service] | type[ServiceIntegration]) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_admin_adds_a_service_and_lands_on_its_page(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin, csrf = await signed_in(client, make_actor)
    listed = await client.get("/services", headers=HTML)
    assert 'href="/services/new">Add service</a>' in listed.text
    form = await client.get("/services/new", headers=HTML)
    assert form.status_code == 200
    assert '<label for="service-name">Name</label>' in form.text
    assert '<label for="service-description">Description</label>' in form.text

    created = await client.post("/services/new", data={
        "csrf_token": csrf, "name": "Checkout", "description": "Takes the money"})
    assert created.status_code == 303, created.text
    service_id = created.headers["location"].removeprefix("/services/")
    page = await client.get(created.headers["location"], headers=HTML)
    assert page.status_code == 200 and "<h1>Checkout</h1>" in page.text
    assert "Service “Checkout” created" in page.text  # the flash

    shown = (await client.get(f"/api/services/{service_id}", headers=admin.headers)).json()
    assert shown["service"]["name"] == "Checkout"
    assert shown["service"]["description"] == "Takes the money"
    assert shown["service"]["status"] == "active"

    under_htmx = await client.post("/services/new", headers={"HX-Request": "true"}, data={
        "csrf_token": csrf, "name": "Search", "description": ""})
    assert under_htmx.status_code == 204 and under_htmx.headers["hx-redirect"].startswith(
        "/services/P")
    searched = await client.get("/api/services", params={"query": "Search"},
                                headers=admin.headers)
    assert [item["description"] for item in searched.json()["services"]] == [None]

    forged = await client.post("/services/new", data={"name": "Forged"}, headers=HTML)
    assert forged.status_code == 403
    assert await _count(db, Service) == 2


async def test_a_refused_service_form_shows_each_error_beside_its_field(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin, csrf = await signed_in(client, make_actor)
    empty = await client.post("/services/new", headers=HTML, data={
        "csrf_token": csrf, "name": "  ", "description": "Kept as typed"})
    assert empty.status_code == 400
    message = _error_of(empty.text, "service-name")
    assert message and not message.startswith("Value error")
    assert _error_of(empty.text, "service-description") is None
    assert 'value="Kept as typed"' in empty.text
    assert await _count(db, Service) == 0

    too_long = await client.post("/services/new", headers=HTML, data={
        "csrf_token": csrf, "name": "Checkout", "description": "x" * 1025})
    assert too_long.status_code == 400 and _error_of(too_long.text, "service-description")
    assert 'value="Checkout"' in too_long.text

    await create_service(client, admin, "Checkout")
    taken = await client.post("/services/new", headers=HTML, data={
        "csrf_token": csrf, "name": "Checkout", "description": ""})
    assert taken.status_code == 400
    assert _error_of(taken.text, "service-name") == "Name has already been taken"
    assert await _count(db, Service) == 1


async def test_an_events_api_integration_is_added_and_shows_its_routing_key(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin, csrf = await signed_in(client, make_actor)
    service = await create_service(client, admin, "Checkout")
    page = await client.get(f"/services/{service['id']}", headers=HTML)
    assert '<label for="integration-name">Name</label>' in page.text
    assert 'value="Events API v2"' in page.text  # the default

    empty = await client.post(f"/services/{service['id']}/integrations", headers=HTML,
                              data={"csrf_token": csrf, "name": ""})
    assert empty.status_code == 400 and _error_of(empty.text, "integration-name")
    assert await _count(db, ServiceIntegration) == 0

    added = await client.post(f"/services/{service['id']}/integrations",
                              data={"csrf_token": csrf, "name": "Events API v2"})
    assert added.status_code == 303, added.text
    location = added.headers["location"]
    assert location.startswith(f"/services/{service['id']}/integrations/")
    integration = (await client.get(f"/api{location}", headers=admin.headers)).json()
    assert integration["integration"]["type"] == "events_api_v2_inbound_integration"
    key = integration["integration"]["integration_key"]
    assert re.fullmatch(r"[0-9a-f]{32}", key)

    shown = await client.get(location, headers=HTML)
    assert "Integration “Events API v2” added" in shown.text  # the flash
    assert f'<code id="routing-key">{key}</code>' in shown.text
    assert "/v2/enqueue" in shown.text  # the curl example


@pytest.mark.parametrize("role", ["responder", "observer", "restricted"])
async def test_roles_the_api_refuses_see_no_add_buttons_and_get_403(
    client: httpx.AsyncClient, make_actor, db: Database, role: str
) -> None:
    admin = await make_actor("admin")
    service = await create_service(client, admin, "Checkout")
    refused = await client.post(f"/api/services/{service['id']}/integrations",
                                headers=(await make_actor(role)).headers,
                                json={"integration": {"type": "events_api_v2_inbound_integration"}})
    assert refused.status_code == 403  # the API's answer, which the pages follow

    _, csrf = await signed_in(client, make_actor, role)
    listed = await client.get("/services", headers=HTML)
    assert listed.status_code == 200 and "Add service" not in listed.text
    page = await client.get(f"/services/{service['id']}", headers=HTML)
    assert page.status_code == 200
    assert f'action="/services/{service["id"]}/integrations"' not in page.text
    assert (await client.get("/services/new", headers=HTML)).status_code == 403
    for path, data in (("/services/new", {"name": "Mine"}),
                       (f"/services/{service['id']}/integrations", {"name": "Mine"})):
        answer = await client.post(path, headers=HTML, data={"csrf_token": csrf, **data})
        assert answer.status_code == 403 and "<h1>" in answer.text, path
    assert await _count(db, Service) == 1
    assert await _count(db, ServiceIntegration) == 0
