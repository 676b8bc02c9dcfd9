"""Issue acceptance, end to end: an Events API trigger creates an incident → a conditional
workflow runs → Elasticsearch search (fake cluster) → Web API call (fake service) → a note
with the result appears on the incident. Both fakes speak over real TLS under their names."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fireline.app import create_app
from fireline.core.db import Database
from fireline.settings import Settings
from fireline.workflows.engine import Engine
from tests.conftest import Actor
from tests.incidents.helpers import create_integration, create_service, writer_headers
from tests.integrations.support import FakeServer, routing_resolver, serve
from tests.workflows.conftest import es_connection, run_detail, save_workflow

TOKEN = "web-api-canary-token-5d1e"
OWNERS = {"checkout": "payments-team"}


def ownership_service() -> Starlette:
    """A team-ownership API: Bearer auth, `POST /v1/lookup {"service": ...}`."""

    async def lookup(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        service = (await request.json()).get("service")
        owner = OWNERS.get(service)
        if owner is None:
            return JSONResponse({"error": f"unknown service {service}"}, status_code=404)
        return JSONResponse({"service": service, "owner": owner})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": request.headers.get("authorization") == f"Bearer {TOKEN}"})

    return Starlette(routes=[Route("/v1/lookup", lookup, methods=["POST"]),
                             Route("/health", health)])


@pytest.fixture(scope="module")
def web(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    with serve(ownership_service(), ca, tmp_path_factory.mktemp("web"),
               "owners.example.com") as server:
        yield server


@pytest.fixture
async def app(settings: Settings, db: Database, es: FakeServer, web: FakeServer):  # type: ignore[no-untyped-def]
    routes = {**es.routes(9200), **web.routes(443)}
    application = create_app(settings, database=db, resolver=routing_resolver(routes))
    yield application
    await application.state.tools.aclose()  # no lifespan under ASGITransport


DEFINITION = {
    "name": "Find the owner",
    "trigger": {"type": "conditional", "on": ["incident.triggered"],
                "condition": "incident.urgency == 'high'"},
    "steps": [
        {"id": "logs", "action": "elasticsearch.search_logs", "connection": "default",
         "with": {"index_pattern": "logs-*", "query_type": "kql", "query": "level:error"}},
        {"id": "owner", "action": "web_api.http_request", "connection": "default",
         "with": {"method": "POST", "url": "https://owners.example.com/v1/lookup",
                  "json_body": {"service": "{{ steps.logs.output.hits[0]._source.service }}"}}},
        {"id": "note", "action": "fireline.add_note",
         "with": {"content": "{{ steps.logs.output.total }} errors; owner: "
                             "{{ steps.owner.output.json_body.owner }}"}},
    ],
}


async def test_events_trigger_es_search_web_api_call_and_note(
    client: httpx.AsyncClient, make_actor, db: Database, engine: Engine
) -> None:
    admin: Actor = await make_actor("admin")
    await es_connection(client, admin, is_default=True)
    web_api = await client.post("/api/workflows/integrations/web_api/connections", json={
        "connection": {"name": "Ownership API", "is_default": True, "configuration": {
            "allowed_hostnames": "owners.example.com",
            "health_check_url": "https://owners.example.com/health",
            "health_check_method": "GET"},
            "secrets": {"authentication_headers": f"Authorization: Bearer {TOKEN}"}}},
        headers=admin.headers)
    assert web_api.status_code == 201, web_api.text
    assert web_api.json()["connection"]["health"]["is_healthy"] is True
    assert (await save_workflow(client, admin, DEFINITION)).status_code == 201
    service = await create_service(client, admin, name="Checkout")
    key = (await create_integration(client, admin, service["id"]))["integration_key"]

    sent = await client.post("/v2/enqueue", json={
        "routing_key": key, "event_action": "trigger",
        "payload": {"summary": "checkout errors", "source": "web-1", "severity": "critical"}})
    assert sent.status_code == 202
    await engine.drain()

    incidents = (await client.get("/api/incidents", headers=admin.headers)).json()["incidents"]
    notes = (await client.get(f"/api/incidents/{incidents[0]['id']}/notes",
                              headers=writer_headers(admin))).json()["notes"]
    assert [n["content"] for n in notes] == ["1 errors; owner: payments-team"]
    runs = (await client.get("/api/incident_workflows", headers=admin.headers)).json()
    workflow_id = runs["incident_workflows"][0]["id"]
    history = (await client.get(f"/api/incident_workflows/{workflow_id}/runs",
                                headers=admin.headers)).json()
    run = await run_detail(client, admin, history["incident_workflow_runs"][0]["id"])
    assert run["status"] == "succeeded"
    assert TOKEN not in str(run)  # SEC-1: the connection's header never reaches run output
