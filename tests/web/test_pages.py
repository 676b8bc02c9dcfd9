from __future__ import annotations

import httpx

from fireline.accounts.permissions import SESSION_COOKIE, csrf_token_for

PASSWORD = "a long enough password"


async def test_login_sets_a_secure_session_cookie_and_logout_needs_csrf(
    client: httpx.AsyncClient, make_actor
) -> None:
    await make_actor("responder", email="r@example.com", password=PASSWORD)
    assert (await client.get("/")).headers["location"] == "/login"
    response = await client.post("/login", data={"email": "r@example.com", "password": PASSWORD})
    assert response.status_code == 303
    cookie_header = response.headers["set-cookie"]
    assert "httponly" in cookie_header.lower() and "samesite=lax" in cookie_header.lower()
    cookie = response.cookies[SESSION_COOKIE]

    home = await client.get("/")
    assert home.status_code == 200 and "r@example.com" in home.text
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]

    me = await client.get("/api/users/me")
    assert me.json()["user"]["email"] == "r@example.com"

    refused = await client.post("/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    done = await client.post("/logout", data={"csrf_token": csrf_token_for(cookie)})
    assert done.status_code == 303
    client.cookies.set(SESSION_COOKIE, cookie)
    assert (await client.get("/api/users/me")).status_code == 401


async def test_wrong_password_is_refused(client: httpx.AsyncClient, make_actor) -> None:
    await make_actor("responder", email="r@example.com", password=PASSWORD)
    response = await client.post("/login", data={"email": "r@example.com", "password": "nope"})
    assert response.status_code == 401
    assert "incorrect" in response.text
    assert SESSION_COOKIE not in response.cookies


async def test_cross_origin_login_is_refused(client: httpx.AsyncClient, make_actor) -> None:
    await make_actor("responder", email="r@example.com", password=PASSWORD)
    response = await client.post(
        "/login", data={"email": "r@example.com", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403


async def test_cookie_api_writes_need_the_csrf_header(
    client: httpx.AsyncClient, make_actor
) -> None:
    await make_actor("admin", email="a@example.com", password=PASSWORD)
    await client.post("/login", data={"email": "a@example.com", "password": PASSWORD})
    response = await client.post("/api/users/me", json={})
    assert response.status_code in {403, 405}
