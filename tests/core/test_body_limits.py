"""Request size limits (issue 17): refused before parsing, with 413 in each API's own shape,
and nothing stored; PagerDuty's field lengths are a 400 naming the field. The slow-client
cut-off needs a real socket: tests/served/test_limits.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from fireline.core.http import EVENTS_MAX_BYTES
from tests.incidents.helpers import create_integration, create_service


async def _routing_key(client: httpx.AsyncClient, make_actor) -> tuple[str, Any]:  # type: ignore[no-untyped-def]
    admin = await make_actor("admin")
    service = await create_service(client, admin)
    integration = await create_integration(client, admin, service["id"])
    return integration["integration_key"], admin


def _event(routing_key: str, **payload: Any) -> dict[str, Any]:
    return {"routing_key": routing_key, "event_action": "trigger",
            "payload": {"summary": "Disk full", "source": "db-1", "severity": "error",
                        **payload}}


async def _incidents(client: httpx.AsyncClient, admin: Any) -> list[Any]:
    listed = await client.get("/api/incidents", headers=admin.headers)
    return list(listed.json()["incidents"])


async def test_an_event_over_512_kb_is_413_in_the_events_shape_and_stores_nothing(
    client: httpx.AsyncClient, make_actor
) -> None:
    key, admin = await _routing_key(client, make_actor)
    event = _event(key, custom_details={"blob": "x" * (600 * 1024)})
    refused = await client.post("/v2/enqueue", json=event)
    assert refused.status_code == 413
    body = refused.json()
    assert body["status"] == "invalid event"
    assert body["errors"] == [f"an event must be at most {EVENTS_MAX_BYTES:,} bytes"]
    assert refused.headers["connection"] == "close"
    assert await _incidents(client, admin) == []

    fits = _event(key, custom_details={"blob": "x" * (500 * 1024)})
    assert (await client.post("/v2/enqueue", json=fits)).status_code == 202


async def test_a_chunked_body_without_length_is_cut_off_at_the_limit(
    client: httpx.AsyncClient, make_actor
) -> None:
    key, admin = await _routing_key(client, make_actor)
    encoded = json.dumps(_event(key, custom_details={"blob": "y" * (700 * 1024)})).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(encoded), 64 * 1024):
            yield encoded[start:start + 64 * 1024]

    refused = await client.post("/v2/enqueue", content=chunks(),
                                headers={"Content-Type": "application/json"})
    assert refused.status_code == 413
    assert await _incidents(client, admin) == []


async def test_a_rest_body_over_the_limit_is_413_in_pagerdutys_error_shape(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin = await make_actor("admin")
    huge = {"service": {"name": "Big", "description": "d" * (2 << 20)}}
    refused = await client.post("/api/services", headers=admin.headers, json=huge)
    assert refused.status_code == 413
    assert refused.json()["error"] == {"message": "Request body too large", "code": 2001,
                                       "errors": ["the request body must be at most "
                                                  "1,048,576 bytes"]}
    listed = await client.get("/api/services", headers=admin.headers)
    assert listed.json()["services"] == []


async def test_pagerdutys_field_lengths_are_400s_naming_the_field(
    client: httpx.AsyncClient, make_actor
) -> None:
    key, admin = await _routing_key(client, make_actor)
    for field, length in (("summary", 1025), ("component", 1025), ("group", 1025),
                          ("class", 1025)):
        refused = await client.post("/v2/enqueue", json=_event(key, **{field: "a" * length}))
        assert refused.status_code == 400, (field, refused.text)
        assert any(f"payload.{field}" in error for error in refused.json()["errors"]), \
            refused.text
    long_url = {**_event(key), "client_url": "https://x.example/" + "a" * 2048}
    refused = await client.post("/v2/enqueue", json=long_url)
    assert refused.status_code == 400 and "client_url" in refused.text
    assert await _incidents(client, admin) == []

    described = await client.post("/api/services", headers=admin.headers,
                                  json={"service": {"name": "Long", "description": "d" * 1025}})
    assert described.status_code == 400 and "description" in described.text
