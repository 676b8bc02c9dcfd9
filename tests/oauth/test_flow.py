from __future__ import annotations

import httpx

from tests.oauth.conftest import ISSUER, bearer, exchange, new_verifier


async def test_code_flow_issues_tokens_that_act_as_the_user(client: httpx.AsyncClient,
                                                            make_app, make_person) -> None:
    app = await make_app()
    person = await make_person("responder")
    redirect = await person.authorize(app, scope="write")
    assert redirect["state"] == ["xyz"]
    assert redirect["iss"] == [ISSUER]
    issued = await exchange(client, app, redirect["code"][0])
    assert issued.status_code == 200, issued.text
    token = issued.json()
    assert token["token_type"] == "bearer"
    assert token["scope"] == "write"
    assert token["expires_in"] == 3600
    assert issued.headers["cache-control"] == "no-store"
    me = await client.get("/api/users/me", headers=bearer(token["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["user"]["id"] == person.actor.user.id
    refreshed = await client.post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": app.client_id, "client_secret": app.client_secret})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != token["refresh_token"]


async def test_public_client_with_pkce(client: httpx.AsyncClient, make_app, make_person) -> None:
    app = await make_app(public=True, redirect_uris=["http://127.0.0.1/callback"])
    person = await make_person()
    verifier = new_verifier()
    redirect = await person.authorize(app, verifier=verifier)
    issued = await exchange(client, app, redirect["code"][0], code_verifier=verifier)
    assert issued.status_code == 200, issued.text
