from __future__ import annotations

import re

import httpx
import pytest

from tests.conftest import Actor


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ok"}


async def test_openapi_document_is_served(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    assert "/api/users/me" in document["paths"]


async def test_swagger_ui_is_served_from_the_package_not_a_cdn(client: httpx.AsyncClient) -> None:
    page = await client.get("/api/docs")
    assert page.status_code == 200
    assert "/api/openapi.json" in page.text
    assert "cdn" not in page.text and "fastapi.tiangolo.com" not in page.text
    for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert asset.startswith("/static/swagger-ui/"), asset
        loaded = await client.get(asset)
        assert loaded.status_code == 200 and loaded.content, asset


async def test_request_id_is_kept_when_well_formed_and_generated_otherwise(
    client: httpx.AsyncClient,
) -> None:
    kept = await client.get("/healthz", headers={"X-Request-Id": "abc123def456"})
    assert kept.headers["x-request-id"] == "abc123def456"
    replaced = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
    assert len(replaced.headers["x-request-id"]) == 32


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient, make_actor) -> None:
    actor: Actor = await make_actor("responder")
    await client.get("/api/users/me", headers=actor.headers)
    text = (await client.get("/metrics")).text
    assert 'fireline_http_requests_total{method="GET",route="/api/users/me",status="200"}' in text


async def test_unknown_route_has_pagerduty_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": {"message": "Not Found", "code": 2100, "errors": []}}


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [("GET", "/api/users/me?query=a%00b", None),
     ("POST", "/api/services", b'{"service": {"name": "a\\u0000b"}}')],
)
async def test_nul_characters_are_refused_with_400(
    client: httpx.AsyncClient, make_actor, method: str, url: str, body: bytes | None
) -> None:
    actor: Actor = await make_actor("admin")
    response = await client.request(method, url, content=body, headers={
        **actor.headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["errors"] == ["text must not contain NUL characters"]
