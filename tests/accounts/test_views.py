from __future__ import annotations

import httpx
import pytest

from tests.conftest import Actor


async def test_users_me_with_an_api_key(client: httpx.AsyncClient, make_actor) -> None:
    actor: Actor = await make_actor("manager")
    response = await client.get("/api/users/me", headers={
        **actor.headers, "Accept": "application/vnd.pagerduty+json;version=2"})
    assert response.status_code == 200
    user = response.json()["user"]
    assert user["id"] == actor.user.id
    assert user["type"] == "user"
    assert user["email"] == actor.user.email
    assert user["self"] == f"http://testserver/api/users/{actor.user.id}"
    assert user["role"] == "user"  # PagerDuty's name for a global manager


async def test_get_user_by_id_and_404(client: httpx.AsyncClient, make_actor) -> None:
    actor: Actor = await make_actor("observer")
    other: Actor = await make_actor("responder")
    found = await client.get(f"/api/users/{other.user.id}", headers=actor.headers)
    assert found.json()["user"]["role"] == "limited_user"
    missing = await client.get("/api/users/PNOPE", headers=actor.headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == 2100


@pytest.mark.parametrize(
    "header",
    [None, "Token token=wrong", "Token", "Basic dXNlcjpwYXNz", "Bearer unknown-token"],
)
async def test_bad_credentials_get_401(client: httpx.AsyncClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = await client.get("/api/users/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 2006


async def test_oa9_credentials_in_the_query_string_are_ignored(
    client: httpx.AsyncClient, make_actor
) -> None:
    actor: Actor = await make_actor("admin")
    response = await client.get("/api/users/me", params={"token": actor.api_key})
    assert response.status_code == 401


async def test_read_only_key_cannot_change_state(client: httpx.AsyncClient, make_actor) -> None:
    actor: Actor = await make_actor("admin", read_only=True)
    assert (await client.get("/api/users/me", headers=actor.headers)).status_code == 200
    response = await client.post("/api/users/me", headers=actor.headers, json={})
    assert response.status_code in {403, 405}
