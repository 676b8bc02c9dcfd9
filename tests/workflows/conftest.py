"""Workflow tests run against an app whose egress reaches the fake Elasticsearch over TLS
(the connections tests' fixtures), and drive the engine by calling it directly."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fireline.core.db import Database
from fireline.workflows.engine import Engine
from tests.conftest import Actor
from tests.connections.conftest import ES_HOST, ES_KEY, app, ca, client, es, settings  # noqa: F401
from tests.incidents.helpers import create_incident, create_service

ES_CONNECTIONS = "/api/workflows/integrations/elasticsearch/connections"
WORKFLOWS = "/api/incident_workflows"


@pytest.fixture
def engine(app, db: Database) -> Engine:  # type: ignore[no-untyped-def]  # noqa: F811
    return Engine(db=db, tools=app.state.tools, worker_id="worker-a")


async def es_connection(
    http: httpx.AsyncClient, actor: Actor, name: str = "Prod logs", **extra: Any
) -> dict[str, Any]:
    body = {"connection": {"name": name, "configuration": {"url": f"https://{ES_HOST}:9200"},
                           "secrets": {"api_key": ES_KEY}, **extra}}
    response = await http.post(ES_CONNECTIONS, json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()["connection"]  # type: ignore[no-any-return]


async def save_workflow(
    http: httpx.AsyncClient, actor: Actor, definition: dict[str, Any]
) -> httpx.Response:
    return await http.post(WORKFLOWS, json={"incident_workflow": definition},
                             headers=actor.headers)


async def incident(http: httpx.AsyncClient, admin: Actor, title: str = "Disk full",
                   **fields: Any) -> dict[str, Any]:
    service = await create_service(http, admin, name=f"svc-{title[:20]}")
    response = await create_incident(http, admin, service["id"], title=title, **fields)
    assert response.status_code == 201, response.text
    return response.json()["incident"]  # type: ignore[no-any-return]


async def start(http: httpx.AsyncClient, actor: Actor, workflow_id: str, incident_id: str
                ) -> httpx.Response:
    return await http.post(
        f"{WORKFLOWS}/{workflow_id}/instances", headers=actor.headers,
        json={"incident_workflow_instance": {"incident": {"id": incident_id,
                                                          "type": "incident_reference"}}})


async def run_detail(http: httpx.AsyncClient, actor: Actor, run_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/incident_workflow_runs/{run_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["incident_workflow_run"]  # type: ignore[no-any-return]
