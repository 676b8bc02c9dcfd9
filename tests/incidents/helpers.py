"""Shared set-up for incidents tests: services and incidents made through the REST API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Actor


def writer_headers(actor: Actor) -> dict[str, str]:
    return {**actor.headers, "From": actor.user.email}


async def create_service(
    client: httpx.AsyncClient, admin: Actor, name: str = "Checkout", **fields: Any
) -> dict[str, Any]:
    response = await client.post("/api/services", headers=admin.headers,
                                 json={"service": {"name": name, **fields}})
    assert response.status_code == 201, response.text
    return response.json()["service"]  # type: ignore[no-any-return]


async def create_integration(
    client: httpx.AsyncClient, admin: Actor, service_id: str
) -> dict[str, Any]:
    response = await client.post(
        f"/api/services/{service_id}/integrations", headers=admin.headers,
        json={"integration": {"type": "events_api_v2_inbound_integration"}})
    assert response.status_code == 201, response.text
    return response.json()["integration"]  # type: ignore[no-any-return]


async def create_incident(
    client: httpx.AsyncClient, actor: Actor, service_id: str, title: str = "Disk full",
    **fields: Any,
) -> httpx.Response:
    body = {"incident": {"type": "incident", "title": title,
                         "service": {"id": service_id, "type": "service_reference"}, **fields}}
    return await client.post("/api/incidents", headers=writer_headers(actor), json=body)
