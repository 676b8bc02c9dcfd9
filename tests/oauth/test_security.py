"""OA-1 … OA-10 of SECURITY.md, and RFC 7009 revocation, proved end to end over HTTP.

Every test drives the ASGI app the way a browser, an app and an attacker would: the consent
page with a signed-in session, the token and revocation endpoints with form bodies, and the
REST API with the tokens they hand out. Nothing is mocked; where time matters the clock the
authorization server reads is moved forward.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import logging
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from sqlalchemy import select, text

from fireline.accounts import service as accounts
from fireline.core import clock
from fireline.core.audit import AuditEvent
from fireline.core.db import Database
from fireline.oauth import server as oauth_server
from fireline.oauth.models import OAuthCode, OAuthGrant
from tests.conftest import Actor
from tests.incidents.helpers import create_service
from tests.oauth.conftest import (
    ISSUER,
    REDIRECT_URI,
    App,
    Person,
    bearer,
    challenge_of,
    exchange,
    new_verifier,
)

LOOPBACK = "http://127.0.0.1/cb"
EVIL_ORIGIN = "https://evil.example"


# Helpers ------------------------------------------------------------------------------------

def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def params_for(app: App, *, redirect_uri: str | None = None, verifier: str | None = None,
               **extra: str) -> dict[str, str]:
    """An authorization request for `app`, with S256 PKCE when `verifier` is given."""
    params = {"client_id": app.client_id, "redirect_uri": redirect_uri or app.redirect_uris[0],
              "response_type": "code", "scope": "write", "state": "xyz", **extra}
    if verifier is not None:
        params |= {"code_challenge": challenge_of(verifier), "code_challenge_method": "S256"}
    return params


def query_of(response: httpx.Response) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.headers["location"]).query)


async def csrf_of(person: Person, app: App) -> str:
    """The CSRF token a consent page shows the signed-in person."""
    page = await person.consent_page(params_for(app))
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def assert_error_page(response: httpx.Response) -> None:
    """OA-2: an HTML error page, never a redirect to where the request asked."""
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "cannot be completed" in response.text
    assert "code=" not in response.text


async def tokens_for(client: httpx.AsyncClient, app: App, person: Person, *,
                     scope: str = "write") -> dict[str, Any]:
    """Runs the whole code flow (with PKCE for a public app) and returns the token response."""
    verifier = new_verifier() if app.client_secret is None else None
    code = (await person.authorize(app, scope=scope, verifier=verifier))["code"][0]
    extra = {"code_verifier": verifier} if verifier else {}
    issued = await exchange(client, app, code, **extra)
    assert issued.status_code == 200, issued.text
    return issued.json()  # type: ignore[no-any-return]


def client_auth(app: App) -> dict[str, str]:
    auth = {"client_id": app.client_id}
    if app.client_secret:
        auth["client_secret"] = app.client_secret
    return auth


async def refresh(client: httpx.AsyncClient, app: App, refresh_token: str, **extra: str
                  ) -> httpx.Response:
    return await client.post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, **client_auth(app),
        **extra})


async def client_credentials(client: httpx.AsyncClient, app: App, **extra: str
                             ) -> httpx.Response:
    return await client.post("/oauth/token", data={
        "grant_type": "client_credentials", **client_auth(app), **extra})


async def revoke(client: httpx.AsyncClient, app: App, token: str, **extra: str
                 ) -> httpx.Response:
    return await client.post("/oauth/revoke", data={"token": token, **client_auth(app), **extra})


async def me(client: httpx.AsyncClient, access_token: str) -> int:
    return (await client.get("/api/users/me", headers=bearer(access_token))).status_code


async def register(client: httpx.AsyncClient, admin: Actor, **fields: Any) -> httpx.Response:
    body = {"name": "VectorShift", "redirect_uris": [REDIRECT_URI], **fields}
    return await client.post("/api/oauth_apps", headers=admin.headers, json={"oauth_app": body})


def shift_clock(monkeypatch: pytest.MonkeyPatch, by: timedelta) -> None:
    """Moves the clock of the authorization server (server.py imports `utcnow` by name)."""
    real = clock.utcnow
    monkeypatch.setattr(oauth_server, "utcnow", lambda: real() + by)


# OA-1 Redirect URIs match exactly; only a loopback port may vary; http only for loopback -----

@pytest.mark.parametrize("sent", [
    REDIRECT_URI + "/",
    "https://app.example.com/oauth/other",
    "https://app.example.com/oauth/callback?next=/admin",
    "https://app.example.com/oauth/callback/../callback",
    "https://evil.example.com/oauth/callback",
    "https://app.example.com.evil.example/oauth/callback",
    "https://app.example.com:8443/oauth/callback",
    "http://app.example.com/oauth/callback",
    "https://APP.example.com/oauth/callback",
    "https://user@app.example.com/oauth/callback",
])
async def test_oa1_redirect_uri_must_match_exactly(make_app, make_person, sent: str) -> None:
    app = await make_app()
    person = await make_person()
    csrf = await csrf_of(person, app)
    refused = await person.consent_page(params_for(app, redirect_uri=sent))
    assert_error_page(refused)
    # Nor by answering the form with a valid CSRF token.
    answered = await person.http.post("/oauth/authorize", params=params_for(app, redirect_uri=sent),
                                      data={"decision": "allow", "csrf_token": csrf})
    assert_error_page(answered)


async def test_oa1_redirect_uri_with_a_fragment_is_refused(make_app, make_person) -> None:
    app = await make_app()
    person = await make_person()
    for sent in (REDIRECT_URI + "#", REDIRECT_URI + "#frag"):
        assert_error_page(await person.consent_page(params_for(app, redirect_uri=sent)))
    loopback = await make_app(public=True, redirect_uris=[LOOPBACK])
    assert_error_page(await person.consent_page(
        params_for(loopback, redirect_uri="http://127.0.0.1:5000/cb#frag",
                   verifier=new_verifier())))


async def test_oa1_loopback_redirect_may_use_another_port(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    """RFC 8252 §7.3: a native app listens on whatever port the OS gives it."""
    app = await make_app(public=True, redirect_uris=[LOOPBACK])
    person = await make_person()
    verifier = new_verifier()
    sent = "http://127.0.0.1:51234/cb"
    answered = await person.answer(params_for(app, redirect_uri=sent, verifier=verifier))
    assert answered.status_code == 303, answered.text
    location = answered.headers["location"]
    assert location.startswith(sent + "?")
    code = query_of(answered)["code"][0]
    # The exchange must name the very URI the code was sent to.
    wrong = await exchange(client, app, code, code_verifier=verifier)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"

    code = (await person.authorize(app, verifier=verifier, redirect_uri=sent))["code"][0]
    issued = await exchange(client, app, code, code_verifier=verifier, redirect_uri=sent)
    assert issued.status_code == 200, issued.text


@pytest.mark.parametrize("sent", [
    "http://127.0.0.1:51234/other",
    "http://127.0.0.1:51234/cb/",
    "http://127.0.0.1:51234/cb?x=1",
    "http://localhost:51234/cb",
    "http://127.0.0.2:51234/cb",
    "https://127.0.0.1:51234/cb",
    "http://evil@127.0.0.1:51234/cb",
    "http://127.0.0.1:notaport/cb",
])
async def test_oa1_loopback_redirect_may_not_change_anything_but_the_port(
    make_app, make_person, sent: str
) -> None:
    app = await make_app(public=True, redirect_uris=[LOOPBACK])
    person = await make_person()
    assert_error_page(await person.consent_page(
        params_for(app, redirect_uri=sent, verifier=new_verifier())))


async def test_oa1_registration_allows_http_only_for_loopback(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    for uri in ("http://example.com/cb", "http://127.0.0.1.evil.example/cb",
                "http://localhost.evil.example/cb", "http://0.0.0.0/cb"):
        refused = await register(client, admin, redirect_uris=[uri])
        assert refused.status_code == 400, (uri, refused.text)
        assert "loopback" in refused.json()["error"]["message"]
    for uri in ("http://127.0.0.1:8000/cb", "http://[::1]/cb", "http://localhost:3000/cb",
                "https://app.example.com/cb", "https://app.example.com/cb?tenant=1"):
        accepted = await register(client, admin, redirect_uris=[uri])
        assert accepted.status_code == 201, (uri, accepted.text)
        assert accepted.json()["oauth_app"]["redirect_uris"] == [uri]


async def test_oa1_registration_refuses_fragments(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    for uri in ("https://app.example.com/cb#frag", "https://app.example.com/cb#",
                "http://127.0.0.1:8000/cb#x"):
        refused = await register(client, admin, redirect_uris=[uri])
        assert refused.status_code == 400, (uri, refused.text)
        assert "fragment" in refused.json()["error"]["message"]
    assert (await client.get("/api/oauth_apps", headers=admin.headers)).json()["oauth_apps"] == []


# OA-2 An unknown client or redirect URI gets an error page, never a redirect -----------------

async def test_oa2_unknown_client_gets_an_error_page(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app()
    params = params_for(app) | {"client_id": "no-such-client"}
    person = await make_person()
    assert_error_page(await person.consent_page(params))
    # Signed out too: an error page, not the sign-in page.
    assert_error_page(await client.get("/oauth/authorize", params=params))
    # Missing client_id entirely.
    assert_error_page(await person.consent_page(
        {k: v for k, v in params.items() if k != "client_id"}))


async def test_oa2_unregistered_redirect_uri_gets_an_error_page(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app()
    params = params_for(app, redirect_uri="https://evil.example/steal")
    person = await make_person()
    page = await person.consent_page(params)
    assert_error_page(page)
    assert "evil.example" not in page.headers.get("location", "")
    assert_error_page(await client.get("/oauth/authorize", params=params))
    # Even errors that would otherwise be sent to the client stay on the page.
    for bad in ({"response_type": "token"}, {"scope": "everything"}):
        assert_error_page(await person.consent_page(params | bad))


async def test_oa2_disabled_app_is_unknown(client: httpx.AsyncClient, make_actor, make_app,
                                           make_person) -> None:
    admin: Actor = await make_actor("admin")
    app = await make_app(admin=admin)
    disabled = await client.patch(f"/api/oauth_apps/{app.id}", headers=admin.headers,
                                  json={"oauth_app": {"disabled": True}})
    assert disabled.status_code == 200
    person = await make_person()
    assert_error_page(await person.consent_page(params_for(app)))


async def test_oa2_answering_for_an_unknown_client_is_an_error_page(make_app,
                                                                    make_person) -> None:
    app = await make_app()
    person = await make_person()
    csrf = await csrf_of(person, app)
    for bad in ({"client_id": "no-such-client"},
                {"redirect_uri": "https://evil.example/steal"}):
        answered = await person.http.post(
            "/oauth/authorize", params=params_for(app) | bad,
            data={"csrf_token": csrf, "decision": "allow"})
        assert_error_page(answered)


# OA-3 PKCE required for public clients, S256 only; a verifier without a challenge is refused --

async def test_oa3_public_client_without_code_challenge_is_refused(make_app,
                                                                   make_person) -> None:
    app = await make_app(public=True, redirect_uris=[LOOPBACK])
    person = await make_person()
    # Client and redirect URI are valid, so the client is told why (RFC 6749 §4.1.2.1).
    refused = await person.consent_page(params_for(app))
    assert refused.status_code == 302, refused.text
    assert refused.headers["location"].startswith(LOOPBACK + "?")
    query = query_of(refused)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == ["xyz"] and query["iss"] == [ISSUER]
    assert "code" not in query


async def test_oa3_plain_code_challenge_method_is_refused(make_app, make_person) -> None:
    person = await make_person()
    verifier = new_verifier()
    for app in (await make_app(public=True, redirect_uris=[LOOPBACK]), await make_app()):
        refused = await person.consent_page(params_for(
            app, code_challenge=verifier, code_challenge_method="plain"))
        assert refused.status_code == 302, refused.text
        assert query_of(refused)["error"] == ["invalid_request"]
        assert "code" not in query_of(refused)


async def test_oa3_code_challenge_without_method_is_refused(make_app, make_person) -> None:
    """RFC 7636 §4.3 would default to `plain`: the method must be named S256."""
    person = await make_person()
    for app in (await make_app(public=True, redirect_uris=[LOOPBACK]), await make_app()):
        refused = await person.consent_page(params_for(
            app, code_challenge=challenge_of(new_verifier())))
        assert refused.status_code == 302, refused.text
        assert query_of(refused)["error"] == ["invalid_request"]


async def test_oa3_code_challenge_method_without_challenge_is_refused(make_app,
                                                                      make_person) -> None:
    app = await make_app()
    person = await make_person()
    refused = await person.consent_page(params_for(app, code_challenge_method="S256"))
    assert refused.status_code == 302, refused.text
    assert query_of(refused)["error"] == ["invalid_request"]


async def test_oa3_wrong_verifier_is_invalid_grant(client: httpx.AsyncClient, make_app,
                                                   make_person) -> None:
    person = await make_person()
    for app in (await make_app(public=True, redirect_uris=[LOOPBACK]), await make_app()):
        verifier = new_verifier()
        code = (await person.authorize(app, verifier=verifier))["code"][0]
        wrong = await exchange(client, app, code, code_verifier=new_verifier())
        assert wrong.status_code == 400, wrong.text
        assert wrong.json()["error"] == "invalid_grant"
        assert "access_token" not in wrong.json()
        # A refused exchange spends nothing: whoever saw the code cannot burn it.
        right = await exchange(client, app, code, code_verifier=verifier)
        assert right.status_code == 200, right.text


async def test_oa3_verifier_for_a_code_issued_without_challenge_is_refused(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    """RFC 9700 §4.8.2: a PKCE downgrade — a confidential client's code had no challenge."""
    app = await make_app()
    person = await make_person()
    code = (await person.authorize(app))["code"][0]
    refused = await exchange(client, app, code, code_verifier=new_verifier())
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_request"
    assert "access_token" not in refused.json()


async def test_oa3_public_client_exchanging_without_verifier_is_refused(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app(public=True, redirect_uris=[LOOPBACK])
    person = await make_person()
    code = (await person.authorize(app, verifier=new_verifier()))["code"][0]
    refused = await exchange(client, app, code)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_request"
    assert "access_token" not in refused.json()


async def test_oa3_confidential_client_with_a_challenge_must_send_the_verifier(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app()
    person = await make_person()
    verifier = new_verifier()
    code = (await person.authorize(app, verifier=verifier))["code"][0]
    refused = await exchange(client, app, code)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    code = (await person.authorize(app, verifier=verifier))["code"][0]
    assert (await exchange(client, app, code, code_verifier=verifier)).status_code == 200


# OA-4 Codes are single-use, live at most 60 s, and a reused code revokes what it issued -------

async def test_oa4_reused_code_revokes_its_tokens(client: httpx.AsyncClient, make_app,
                                                  make_person, db: Database) -> None:
    app = await make_app()
    person = await make_person()
    code = (await person.authorize(app))["code"][0]
    first = await exchange(client, app, code)
    assert first.status_code == 200, first.text
    token = first.json()
    assert await me(client, token["access_token"]) == 200

    second = await exchange(client, app, code)
    assert second.status_code == 400, second.text
    assert second.json()["error"] == "invalid_grant"
    assert "access_token" not in second.json()
    assert await me(client, token["access_token"]) == 401
    assert (await refresh(client, app, token["refresh_token"])).json()["error"] == "invalid_grant"
    # A third try changes nothing, and the revocation is on record as a failure.
    assert (await exchange(client, app, code)).json()["error"] == "invalid_grant"
    async with db.session() as session:
        grant = (await session.scalars(select(OAuthGrant))).one()
        revoked = list(await session.scalars(select(AuditEvent).where(
            AuditEvent.action == "oauth.grant.revoked")))
    assert grant.revoked_reason == "code_reused"
    assert [(event.outcome, event.details["reason"]) for event in revoked] == [
        ("failure", "code_reused")]


async def test_oa4_reused_code_of_a_public_client_revokes_its_tokens(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app(public=True, redirect_uris=[LOOPBACK])
    person = await make_person()
    verifier = new_verifier()
    code = (await person.authorize(app, verifier=verifier))["code"][0]
    token = (await exchange(client, app, code, code_verifier=verifier)).json()
    again = await exchange(client, app, code, code_verifier=verifier)
    assert again.json()["error"] == "invalid_grant"
    assert await me(client, token["access_token"]) == 401


async def test_oa4_code_is_bound_to_its_client(client: httpx.AsyncClient, make_app,
                                               make_person) -> None:
    app = await make_app()
    other = await make_app()
    person = await make_person()
    code = (await person.authorize(app))["code"][0]
    stolen = await exchange(client, other, code, redirect_uri=REDIRECT_URI)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    # The other app's attempt neither spent it nor revoked anything.
    assert (await exchange(client, app, code)).status_code == 200


async def test_oa4_expired_code_is_refused(client: httpx.AsyncClient, make_app, make_person,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    app = await make_app()
    person = await make_person()
    late = (await person.authorize(app))["code"][0]
    on_time = (await person.authorize(app))["code"][0]

    shift_clock(monkeypatch, timedelta(seconds=61))
    refused = await exchange(client, app, late)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_grant"

    shift_clock(monkeypatch, timedelta(seconds=5))  # the moved clock alone breaks nothing
    assert (await exchange(client, app, on_time)).status_code == 200


async def test_oa4_code_lifetime_is_at_most_60_seconds(make_app, make_person,
                                                       db: Database) -> None:
    app = await make_app()
    person = await make_person()
    before = clock.utcnow()
    code = (await person.authorize(app))["code"][0]
    async with db.session() as session:
        row = await session.get(OAuthCode, sha256(code))
    assert row is not None
    assert row.expires_at - before <= timedelta(seconds=60)
    assert timedelta(seconds=60) >= oauth_server.CODE_LIFETIME


async def test_oa4_codes_are_stored_only_as_hashes(make_app, make_person,
                                                   db: Database) -> None:
    app = await make_app()
    person = await make_person()
    verifier = new_verifier()
    code = (await person.authorize(app, verifier=verifier))["code"][0]
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM oauth_codes"))).mappings().all()
    assert len(rows) == 1
    assert rows[0]["code_hash"] == sha256(code)
    assert code not in " ".join(str(value) for value in rows[0].values())
    assert verifier not in " ".join(str(value) for value in rows[0].values())


# OA-5 Only authorization_code, refresh_token and (per client) client_credentials -------------

async def test_oa5_password_grant_is_refused(client: httpx.AsyncClient, make_app,
                                             make_person) -> None:
    from tests.oauth.conftest import PASSWORD

    app = await make_app()
    person = await make_person()
    refused = await client.post("/oauth/token", data={
        "grant_type": "password", "username": person.actor.user.email, "password": PASSWORD,
        "scope": "write", **client_auth(app)})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "unsupported_grant_type"
    assert "access_token" not in refused.json()


async def test_oa5_implicit_grant_is_refused(client: httpx.AsyncClient, make_app,
                                             make_person) -> None:
    app = await make_app()
    person = await make_person()
    for response_type in ("token", "code token", "id_token token"):
        params = params_for(app, response_type=response_type)
        refused = await person.consent_page(params)
        assert refused.status_code == 302, refused.text
        location = refused.headers["location"]
        assert "access_token" not in location and "#" not in location
        assert query_of(refused)["error"] == ["unsupported_response_type"]
        assert query_of(refused)["iss"] == [ISSUER]
        # Answering the form does not issue a token either.
        answered = await person.http.post("/oauth/authorize", params=params, data={
            "csrf_token": await csrf_of(person, app), "decision": "allow"})
        assert "access_token" not in answered.headers.get("location", "")
        assert "code=" not in answered.headers.get("location", "")
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["response_types_supported"] == ["code"]
    assert set(metadata["grant_types_supported"]) == {
        "authorization_code", "refresh_token", "client_credentials"}


async def test_oa5_client_credentials_acts_as_the_registering_admin(
    client: httpx.AsyncClient, make_actor, make_app
) -> None:
    admin: Actor = await make_actor("admin")
    app = await make_app(admin=admin, scopes=["users.read", "incidents.read"])
    issued = await client_credentials(client, app)
    assert issued.status_code == 200, issued.text
    token = issued.json()
    assert "refresh_token" not in token
    assert set(token["scope"].split()) == {"users.read", "incidents.read"}
    got = await client.get("/api/users/me", headers=bearer(token["access_token"]))
    assert got.status_code == 200, got.text
    assert got.json()["user"]["id"] == admin.user.id
    # Narrower than registered is fine; anything beyond the registration is not.
    narrow = await client_credentials(client, app, scope="users.read")
    assert narrow.status_code == 200 and narrow.json()["scope"] == "users.read"
    for scope in ("write", "users.read write", "services.read"):
        wider = await client_credentials(client, app, scope=scope)
        assert wider.status_code == 400, (scope, wider.text)
        assert wider.json()["error"] == "invalid_scope"
    # The token is held to its scope.
    service_list = await client.get("/api/services", headers=bearer(token["access_token"]))
    assert service_list.status_code == 403


async def test_oa5_client_credentials_needs_the_client_secret(client: httpx.AsyncClient,
                                                              make_app) -> None:
    app = await make_app()
    wrong = await client.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": app.client_id,
        "client_secret": "not-the-secret"})
    assert wrong.status_code == 401, wrong.text
    assert wrong.json()["error"] == "invalid_client"
    none = await client.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": app.client_id})
    assert none.status_code == 401 and none.json()["error"] == "invalid_client"


async def test_oa5_client_credentials_is_refused_for_a_public_app(client: httpx.AsyncClient,
                                                                  make_app) -> None:
    app = await make_app(public=True, redirect_uris=[LOOPBACK])
    refused = await client_credentials(client, app)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "invalid_client"
    assert "access_token" not in refused.json()


# OA-6 Refresh tokens rotate; replaying an old one revokes the whole family -------------------

async def test_oa6_refresh_rotates_the_refresh_token(client: httpx.AsyncClient, make_app,
                                                     make_person) -> None:
    app = await make_app()
    person = await make_person()
    first = await tokens_for(client, app, person)
    second = await refresh(client, app, first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert await me(client, rotated["access_token"]) == 200
    third = await refresh(client, app, rotated["refresh_token"])
    assert third.status_code == 200, third.text
    assert third.json()["refresh_token"] not in {first["refresh_token"],
                                                 rotated["refresh_token"]}


async def test_oa6_replayed_refresh_token_revokes_the_family(
    client: httpx.AsyncClient, make_app, make_person, db: Database
) -> None:
    app = await make_app()
    person = await make_person()
    first = await tokens_for(client, app, person)
    second = (await refresh(client, app, first["refresh_token"])).json()
    third = (await refresh(client, app, second["refresh_token"])).json()
    assert await me(client, third["access_token"]) == 200

    replayed = await refresh(client, app, first["refresh_token"])
    assert replayed.status_code == 400, replayed.text
    assert replayed.json()["error"] == "invalid_grant"
    assert "access_token" not in replayed.json()
    # The newest access and refresh tokens — the legitimate client's — die with the family.
    for token in (first, second, third):
        assert await me(client, token["access_token"]) == 401
    assert (await refresh(client, app, third["refresh_token"])).json()["error"] == "invalid_grant"
    async with db.session() as session:
        grant = (await session.scalars(select(OAuthGrant))).one()
    assert grant.revoked_reason == "refresh_token_replayed"


async def test_oa6_replay_of_a_public_clients_refresh_token_revokes_the_family(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app(public=True, redirect_uris=[LOOPBACK])
    person = await make_person()
    first = await tokens_for(client, app, person)
    second = (await refresh(client, app, first["refresh_token"])).json()
    assert (await refresh(client, app, first["refresh_token"])).json()["error"] == "invalid_grant"
    assert await me(client, second["access_token"]) == 401
    assert (await refresh(client, app, second["refresh_token"])).json()["error"] == "invalid_grant"


async def test_oa6_replay_revokes_only_that_family(client: httpx.AsyncClient, make_app,
                                                   make_person) -> None:
    app = await make_app()
    person = await make_person()
    other_person = await make_person()
    stolen = await tokens_for(client, app, person)
    untouched = await tokens_for(client, app, other_person)
    again = await tokens_for(client, app, person)  # a second authorization: its own family
    await refresh(client, app, stolen["refresh_token"])
    await refresh(client, app, stolen["refresh_token"])
    assert await me(client, untouched["access_token"]) == 200
    assert await me(client, again["access_token"]) == 200


async def test_oa6_another_apps_refresh_token_is_refused_and_not_spent(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app()
    other = await make_app()
    person = await make_person()
    token = await tokens_for(client, app, person)
    stolen = await refresh(client, other, token["refresh_token"])
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert await me(client, token["access_token"]) == 200
    assert (await refresh(client, app, token["refresh_token"])).status_code == 200


async def test_oa6_refresh_cannot_widen_the_scope(client: httpx.AsyncClient, make_app,
                                                  make_person) -> None:
    app = await make_app()
    person = await make_person()
    token = await tokens_for(client, app, person, scope="read")
    wider = await refresh(client, app, token["refresh_token"], scope="write")
    assert wider.status_code == 400, wider.text
    assert wider.json()["error"] == "invalid_scope"
    assert "access_token" not in wider.json()


async def test_oa6_a_refused_refresh_does_not_spend_the_refresh_token(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    """A refresh refused for its scope must not spend the token: else the app's corrected
    retry would be taken for a replay and revoke the whole family."""
    app = await make_app()
    person = await make_person()
    token = await tokens_for(client, app, person, scope="read")
    wider = await refresh(client, app, token["refresh_token"], scope="write")
    assert wider.json()["error"] == "invalid_scope"
    retried = await refresh(client, app, token["refresh_token"])
    assert retried.status_code == 200, retried.text
    assert await me(client, retried.json()["access_token"]) == 200


# OA-7 Client secrets and tokens are stored only as hashes; compare_digest ----------------------

async def _dump(db: Database, *tables: str) -> str:
    """Every row of `tables`, as plain SQL returns it, in one string."""
    parts: list[str] = []
    async with db.engine.connect() as conn:
        for table in tables:
            for row in (await conn.execute(text(f"SELECT * FROM {table}"))).all():
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


async def test_oa7_secrets_and_tokens_are_stored_only_as_hashes(
    client: httpx.AsyncClient, make_actor, make_person, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    created = await register(client, admin, scopes=["read", "write"])
    assert created.status_code == 201, created.text
    body = created.json()["oauth_app"]
    app = App(body["id"], body["client_id"], body["client_secret"], [REDIRECT_URI])
    public = await register(client, admin, public=True, redirect_uris=[LOOPBACK])
    public_body = public.json()["oauth_app"]
    public_app = App(public_body["id"], public_body["client_id"], None, [LOOPBACK])
    person = await make_person()

    verifier = new_verifier()
    code = (await person.authorize(app, verifier=verifier))["code"][0]
    first = (await exchange(client, app, code, code_verifier=verifier)).json()
    second = (await refresh(client, app, first["refresh_token"])).json()
    unused_code = (await person.authorize(app))["code"][0]
    public_code = (await person.authorize(public_app, verifier=new_verifier()))["code"][0]
    machine = (await client_credentials(client, app)).json()
    for token in (first, second, machine):
        assert await me(client, token["access_token"]) == 200
    revoked = await tokens_for(client, app, person)
    assert (await revoke(client, app, revoked["refresh_token"])).status_code == 200

    secrets = {"client secret": app.client_secret or "", "code": code,
               "unused code": unused_code, "public code": public_code, "verifier": verifier}
    for name, token in (("first", first), ("second", second), ("machine", machine),
                        ("revoked", revoked)):
        secrets[f"{name} access token"] = token["access_token"]
        if "refresh_token" in token:
            secrets[f"{name} refresh token"] = token["refresh_token"]

    dump = await _dump(db, "oauth_apps", "oauth_codes", "oauth_grants", "oauth_tokens",
                       "audit_events")
    for name, secret in secrets.items():
        assert secret and secret not in dump, f"the {name} is stored in plaintext"
    for name, secret in secrets.items():
        if name != "verifier":
            assert sha256(secret) in dump, f"the {name}'s SHA-256 is not stored"

    async with db.engine.connect() as conn:
        apps = {row.id: row for row in (await conn.execute(text(
            "SELECT id, secret_hash FROM oauth_apps"))).all()}
        token_hashes = (await conn.execute(text(
            "SELECT access_hash, refresh_hash FROM oauth_tokens"))).all()
    assert apps[app.id].secret_hash == sha256(app.client_secret or "")
    assert apps[public_app.id].secret_hash is None
    for access_hash, refresh_hash in token_hashes:
        assert re.fullmatch(r"[0-9a-f]{64}", access_hash)
        assert refresh_hash is None or re.fullmatch(r"[0-9a-f]{64}", refresh_hash)


async def test_oa7_tokens_never_reach_the_logs(client: httpx.AsyncClient, make_app,
                                               make_person,
                                               caplog: pytest.LogCaptureFixture) -> None:
    app = await make_app()
    person = await make_person()
    with caplog.at_level(logging.DEBUG):
        token = await tokens_for(client, app, person)
        rotated = (await refresh(client, app, token["refresh_token"])).json()
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    for secret in (token["access_token"], token["refresh_token"], rotated["access_token"],
                   rotated["refresh_token"], app.client_secret or ""):
        assert secret not in logged


def test_oa7_client_secrets_are_compared_with_compare_digest() -> None:
    check = inspect.getsource(oauth_server.Client.check_client_secret)
    assert "hmac.compare_digest(" in check
    assert "==" not in check
    assert oauth_server.hmac is hmac


async def test_oa7_wrong_client_secret_is_refused(client: httpx.AsyncClient, make_app,
                                                  make_person) -> None:
    app = await make_app()
    person = await make_person()
    code = (await person.authorize(app))["code"][0]
    for secret in ("", "x", (app.client_secret or "")[:-1], sha256(app.client_secret or "")):
        refused = await exchange(client, app, code, client_secret=secret)
        assert refused.status_code == 401, (secret, refused.text)
        assert refused.json()["error"] == "invalid_client"
    assert (await exchange(client, app, code)).status_code == 200


# OA-8 Consent page: no framing, no CORS, 303 after POST, iss, RFC 8414 metadata --------------

async def test_oa8_consent_page_cannot_be_framed(make_app, make_person) -> None:
    app = await make_app()
    person = await make_person()
    page = await person.consent_page(params_for(app))
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in [part.strip() for part in csp.split(";")]
    error = await person.consent_page(params_for(app, redirect_uri="https://evil.example/"))
    assert "frame-ancestors 'none'" in error.headers["content-security-policy"]


async def test_oa8_no_cors_on_consent_token_and_revoke(client: httpx.AsyncClient, make_app,
                                                       make_person) -> None:
    app = await make_app()
    person = await make_person()
    origin = {"Origin": EVIL_ORIGIN}
    responses: list[httpx.Response] = []
    page = await person.http.get("/oauth/authorize", params=params_for(app), headers=origin)
    assert page.status_code == 200
    responses.append(page)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    answered = await person.http.post("/oauth/authorize", params=params_for(app), headers=origin,
                                      data={"csrf_token": csrf.group(1), "decision": "allow"})
    responses.append(answered)
    code = query_of(answered)["code"][0] if answered.status_code == 303 else "none"
    issued = await client.post("/oauth/token", headers=origin, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        **client_auth(app)})
    responses.append(issued)
    token = issued.json().get("access_token", "none")
    responses.append(await client.post("/oauth/revoke", headers=origin,
                                       data={"token": token, **client_auth(app)}))
    responses.append(await client.post("/oauth/token", headers=origin, data={
        "grant_type": "password", **client_auth(app)}))
    for path in ("/oauth/authorize", "/oauth/token", "/oauth/revoke"):
        responses.append(await client.options(path, headers=origin | {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization"}))
    responses.append(await client.get("/.well-known/oauth-authorization-server",
                                      headers=origin))
    for response in responses:
        cors = {name for name in response.headers if name.startswith("access-control-")}
        assert not cors, (response.request.method, response.request.url, cors)


async def test_oa8_consent_answer_is_a_303_with_iss(make_app, make_person) -> None:
    app = await make_app()
    person = await make_person()
    answered = await person.answer(params_for(app, state="s-123"))
    assert answered.status_code == 303, answered.text
    assert answered.headers["location"].startswith(REDIRECT_URI + "?")
    query = query_of(answered)
    assert query["iss"] == [ISSUER]
    assert query["state"] == ["s-123"]
    assert len(query["code"]) == 1


async def test_oa8_denial_redirects_with_access_denied(client: httpx.AsyncClient, make_app,
                                                       make_person, db: Database) -> None:
    app = await make_app()
    person = await make_person()
    denied = await person.answer(params_for(app, state="s-456"), decision="deny")
    assert denied.status_code == 303, denied.text
    assert denied.headers["location"].startswith(REDIRECT_URI + "?")
    query = query_of(denied)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["s-456"]
    assert query["iss"] == [ISSUER]
    assert "code" not in query
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT COUNT(*) FROM oauth_codes"))).scalar() == 0


async def test_oa8_error_redirects_name_the_issuer(make_app, make_person) -> None:
    app = await make_app()
    person = await make_person()
    refused = await person.consent_page(params_for(app, scope="everything"))
    assert refused.status_code == 302, refused.text
    query = query_of(refused)
    assert query["error"] == ["invalid_scope"]
    assert query["iss"] == [ISSUER] and query["state"] == ["xyz"]


async def test_oa8_authorization_server_metadata(client: httpx.AsyncClient) -> None:
    got = await client.get("/.well-known/oauth-authorization-server")
    assert got.status_code == 200
    metadata = got.json()
    AuthorizationServerMetadata(metadata).validate()
    assert metadata["issuer"] == ISSUER
    assert metadata["authorization_endpoint"] == f"{ISSUER}/oauth/authorize"
    assert metadata["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert metadata["revocation_endpoint"] == f"{ISSUER}/oauth/revoke"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert "password" not in metadata["grant_types_supported"]
    assert "implicit" not in metadata["grant_types_supported"]


async def test_oa8_advertised_client_secret_basic_authentication_works(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    """RFC 6749 §2.3.1: the server MUST support HTTP Basic; the metadata says it does."""
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]
    assert "client_secret_basic" in metadata["revocation_endpoint_auth_methods_supported"]
    app = await make_app()
    basic = (app.client_id, app.client_secret or "")
    person = await make_person()
    code = (await person.authorize(app))["code"][0]
    issued = await client.post("/oauth/token", auth=basic, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI})
    assert issued.status_code == 200, issued.text
    token = issued.json()
    machine = await client.post("/oauth/token", auth=basic,
                                data={"grant_type": "client_credentials"})
    assert machine.status_code == 200, machine.text
    revoked = await client.post("/oauth/revoke", auth=basic,
                                data={"token": token["refresh_token"]})
    assert revoked.status_code == 200, revoked.text
    assert await me(client, token["access_token"]) == 401


async def test_oa8_consent_post_without_a_valid_csrf_token_is_refused(
    make_app, make_person, db: Database
) -> None:
    app = await make_app()
    person = await make_person()
    other = await make_person()
    page = await other.consent_page(params_for(app))
    others_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert others_token
    for data in ({"decision": "allow"}, {"decision": "allow", "csrf_token": ""},
                 {"decision": "allow", "csrf_token": "forged"},
                 {"decision": "allow", "csrf_token": others_token.group(1)}):
        refused = await person.http.post("/oauth/authorize", params=params_for(app), data=data)
        assert refused.status_code == 403, (data, refused.text)
        assert "location" not in refused.headers
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT COUNT(*) FROM oauth_codes"))).scalar() == 0


async def test_oa8_signed_out_consent_goes_to_sign_in(client: httpx.AsyncClient,
                                                      make_app) -> None:
    app = await make_app()
    page = await client.get("/oauth/authorize", params=params_for(app))
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=")
    answered = await client.post("/oauth/authorize", params=params_for(app),
                                 data={"decision": "allow", "csrf_token": "x"})
    assert answered.status_code == 303
    assert answered.headers["location"].startswith("/login?next=")


# OA-9 Credentials only in the Authorization header --------------------------------------------

async def test_oa9_bearer_token_in_the_query_string_is_ignored(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app()
    person = await make_person()
    token = (await tokens_for(client, app, person))["access_token"]
    assert await me(client, token) == 200
    for params in ({"access_token": token}, {"token": token}, {"api_key": token}):
        got = await client.get("/api/users/me", params=params)
        assert got.status_code == 401, (params, got.text)


async def test_oa9_bearer_token_in_a_form_body_is_ignored(
    client: httpx.AsyncClient, make_actor, make_app, make_person
) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin, "Payments")
    app = await make_app(admin=admin)
    person = await make_person()
    token = (await tokens_for(client, app, person))["access_token"]
    refused = await client.post("/api/incidents", data={
        "access_token": token, "incident[title]": "Disk full",
        "incident[service][id]": service["id"]})
    assert refused.status_code == 401, refused.text
    got = await client.request("GET", "/api/users/me", data={"access_token": token})
    assert got.status_code == 401, got.text
    # The header is what works.
    created = await client.post("/api/incidents", headers=bearer(token), json={"incident": {
        "type": "incident", "title": "Disk full",
        "service": {"id": service["id"], "type": "service_reference"}}})
    assert created.status_code == 201, created.text


async def test_oa9_api_key_in_the_query_string_is_ignored(client: httpx.AsyncClient,
                                                          make_actor) -> None:
    actor: Actor = await make_actor("responder")
    assert (await client.get("/api/users/me", headers=actor.headers)).status_code == 200
    for params in ({"token": actor.api_key}, {"api_key": actor.api_key},
                   {"access_token": actor.api_key}):
        assert (await client.get("/api/users/me", params=params)).status_code == 401


# OA-10 A token never exceeds its user; disabling a user or app revokes its tokens at once -----

async def test_oa10_observer_with_write_scope_cannot_create_incidents(
    client: httpx.AsyncClient, make_actor, make_app, make_person
) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin, "Payments")
    app = await make_app(admin=admin)
    observer = await make_person("observer")
    token = await tokens_for(client, app, observer, scope="write")
    assert token["scope"] == "write"
    headers = bearer(token["access_token"])
    assert (await client.get("/api/incidents", headers=headers)).status_code == 200
    body = {"incident": {"type": "incident", "title": "Disk full",
                         "service": {"id": service["id"], "type": "service_reference"}}}
    refused = await client.post("/api/incidents", headers=headers, json=body)
    assert refused.status_code == 403, refused.text
    assert (await client.post("/api/services", headers=headers,
                              json={"service": {"name": "Other"}})).status_code == 403
    # Not even by naming someone else in `From`.
    refused = await client.post("/api/incidents", json=body,
                                headers=headers | {"From": admin.user.email})
    assert refused.status_code == 403, refused.text
    listed = await client.get("/api/incidents", headers=admin.headers)
    assert listed.json()["incidents"] == []


async def test_oa10_responder_with_write_scope_cannot_act_as_an_admin(
    client: httpx.AsyncClient, make_actor, make_app, make_person
) -> None:
    admin: Actor = await make_actor("admin")
    victim: Actor = await make_actor("responder")
    app = await make_app(admin=admin)
    responder = await make_person("responder")
    headers = bearer((await tokens_for(client, app, responder, scope="write"))["access_token"])
    removed = await client.delete(f"/api/users/{victim.user.id}", headers=headers)
    assert removed.status_code == 403, removed.text
    assert (await client.post("/api/services", headers=headers,
                              json={"service": {"name": "Other"}})).status_code == 403


async def test_oa10_tokens_cannot_manage_apps_or_authorizations(
    client: httpx.AsyncClient, make_actor, make_app, make_person
) -> None:
    admin: Actor = await make_actor("admin")
    app = await make_app(admin=admin)
    person = await make_person("admin")
    headers = bearer((await tokens_for(client, app, person, scope="write"))["access_token"])
    machine = bearer((await client_credentials(client, app)).json()["access_token"])
    for auth in (headers, machine):
        assert (await client.post("/api/oauth_apps", headers=auth, json={"oauth_app": {
            "name": "Mine", "redirect_uris": [REDIRECT_URI]}})).status_code == 403
        assert (await client.get("/api/oauth_apps", headers=auth)).status_code == 403
        assert (await client.patch(f"/api/oauth_apps/{app.id}", headers=auth, json={
            "oauth_app": {"disabled": False}})).status_code == 403
        assert (await client.get("/api/oauth_authorizations", headers=auth)).status_code == 403
        assert (await client.delete(f"/api/oauth_authorizations/{app.id}",
                                    headers=auth)).status_code == 403


async def test_oa10_deleting_the_user_revokes_their_tokens(
    client: httpx.AsyncClient, make_actor, make_app, make_person
) -> None:
    admin: Actor = await make_actor("admin")
    app = await make_app(admin=admin)
    person = await make_person("responder")
    bystander = await make_person("responder")
    token = await tokens_for(client, app, person)
    kept = await tokens_for(client, app, bystander)
    assert await me(client, token["access_token"]) == 200
    removed = await client.delete(f"/api/users/{person.actor.user.id}", headers=admin.headers)
    assert removed.status_code == 204, removed.text
    assert await me(client, token["access_token"]) == 401
    assert (await refresh(client, app, token["refresh_token"])).status_code == 400
    assert await me(client, kept["access_token"]) == 200


async def test_oa10_disabling_the_user_revokes_their_tokens_for_good(
    client: httpx.AsyncClient, make_actor, make_app, make_person, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    app = await make_app(admin=admin)
    person = await make_person("responder")
    token = await tokens_for(client, app, person)
    assert await me(client, token["access_token"]) == 200
    async with db.transaction() as session:
        await accounts.set_user_disabled(session=session, actor=admin,
                                         user_id=person.actor.user.id, disabled=True)
    assert await me(client, token["access_token"]) == 401
    assert (await refresh(client, app, token["refresh_token"])).status_code == 400
    async with db.transaction() as session:  # enabled again: the tokens stay revoked
        await accounts.set_user_disabled(session=session, actor=admin,
                                         user_id=person.actor.user.id, disabled=False)
    assert await me(client, token["access_token"]) == 401
    assert (await refresh(client, app, token["refresh_token"])).status_code == 400


async def test_oa10_deleting_the_registering_admin_ends_client_credentials(
    client: httpx.AsyncClient, make_actor, make_app
) -> None:
    owner: Actor = await make_actor("owner")
    registrar: Actor = await make_actor("admin")
    app = await make_app(admin=registrar)
    token = (await client_credentials(client, app)).json()["access_token"]
    assert await me(client, token) == 200
    removed = await client.delete(f"/api/users/{registrar.user.id}", headers=owner.headers)
    assert removed.status_code == 204, removed.text
    assert await me(client, token) == 401
    refused = await client_credentials(client, app)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "unauthorized_client"


async def test_oa10_disabling_the_app_revokes_all_its_tokens(
    client: httpx.AsyncClient, make_actor, make_app, make_person
) -> None:
    admin: Actor = await make_actor("admin")
    app = await make_app(admin=admin)
    other_app = await make_app(admin=admin)
    alice = await make_person("responder")
    bob = await make_person("manager")
    tokens = [await tokens_for(client, app, alice), await tokens_for(client, app, bob)]
    machine = (await client_credentials(client, app)).json()
    unrelated = await tokens_for(client, other_app, alice)
    for token in (*tokens, machine):
        assert await me(client, token["access_token"]) == 200

    disabled = await client.patch(f"/api/oauth_apps/{app.id}", headers=admin.headers,
                                  json={"oauth_app": {"disabled": True}})
    assert disabled.status_code == 200, disabled.text
    for token in (*tokens, machine):
        assert await me(client, token["access_token"]) == 401
    for token in tokens:
        assert (await refresh(client, app, token["refresh_token"])).status_code in {400, 401}
    assert (await client_credentials(client, app)).status_code in {400, 401}
    assert await me(client, unrelated["access_token"]) == 200

    # Enabling the app again does not bring the old tokens back.
    enabled = await client.patch(f"/api/oauth_apps/{app.id}", headers=admin.headers,
                                 json={"oauth_app": {"disabled": False}})
    assert enabled.status_code == 200
    for token in (*tokens, machine):
        assert await me(client, token["access_token"]) == 401
    for token in tokens:
        assert (await refresh(client, app, token["refresh_token"])).json()["error"] \
            == "invalid_grant"


async def test_oa10_user_revoking_the_authorization_ends_its_tokens(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app()
    person = await make_person("responder")
    bystander = await make_person("responder")
    first = await tokens_for(client, app, person)
    second = await tokens_for(client, app, person)
    kept = await tokens_for(client, app, bystander)
    revoked = await client.delete(f"/api/oauth_authorizations/{app.id}",
                                  headers=person.actor.headers)
    assert revoked.status_code == 204, revoked.text
    for token in (first, second):
        after = await client.get("/api/users/me", headers=bearer(token["access_token"]))
        assert after.status_code == 401
        error = after.json()["error"]
        assert error["code"] == 2006
        assert isinstance(error["message"], str) and error["message"]
        assert 'error="invalid_token"' in after.headers["www-authenticate"]
        assert (await refresh(client, app, token["refresh_token"])).json()["error"] \
            == "invalid_grant"
    assert await me(client, kept["access_token"]) == 200
    # A person cannot revoke someone else's authorization: they have none of their own left.
    again = await client.delete(f"/api/oauth_authorizations/{app.id}",
                                headers=person.actor.headers)
    assert again.status_code == 404


# RFC 7009 Token revocation ---------------------------------------------------------------------

async def test_rfc7009_revoking_an_access_token_revokes_only_it(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app()
    person = await make_person()
    first = await tokens_for(client, app, person)
    second = (await refresh(client, app, first["refresh_token"])).json()
    other = await tokens_for(client, app, person)
    assert await me(client, first["access_token"]) == 200

    revoked = await revoke(client, app, first["access_token"], token_type_hint="access_token")
    assert revoked.status_code == 200, revoked.text
    assert revoked.headers["cache-control"] == "no-store"
    assert await me(client, first["access_token"]) == 401
    assert await me(client, second["access_token"]) == 200
    assert await me(client, other["access_token"]) == 200
    assert (await refresh(client, app, second["refresh_token"])).status_code == 200
    # Revoking it again is still a success.
    assert (await revoke(client, app, first["access_token"])).status_code == 200


async def test_rfc7009_revoking_the_latest_access_token_is_not_a_refresh_replay(
    client: httpx.AsyncClient, make_app, make_person, db: Database
) -> None:
    """Revoking an access token must not make its refresh token look replayed."""
    app = await make_app()
    person = await make_person()
    first = await tokens_for(client, app, person)
    second = (await refresh(client, app, first["refresh_token"])).json()
    assert (await revoke(client, app, second["access_token"])).status_code == 200
    # RFC 7009 §2.1 lets the server revoke the paired refresh token too ("MAY"), but nothing
    # was replayed: the rest of the family stands and no replay is reported.
    await refresh(client, app, second["refresh_token"])
    assert await me(client, first["access_token"]) == 200
    async with db.session() as session:
        grant = (await session.scalars(select(OAuthGrant))).one()
    assert grant.revoked_reason != "refresh_token_replayed"


async def test_rfc7009_revoking_a_refresh_token_revokes_the_family(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app()
    person = await make_person()
    first = await tokens_for(client, app, person)
    second = (await refresh(client, app, first["refresh_token"])).json()
    other = await tokens_for(client, app, person)
    revoked = await revoke(client, app, second["refresh_token"],
                           token_type_hint="refresh_token")
    assert revoked.status_code == 200, revoked.text
    for token in (first, second):
        assert await me(client, token["access_token"]) == 401
    assert (await refresh(client, app, second["refresh_token"])).json()["error"] \
        == "invalid_grant"
    assert await me(client, other["access_token"]) == 200


async def test_rfc7009_public_client_revokes_its_refresh_token(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app(public=True, redirect_uris=[LOOPBACK])
    person = await make_person()
    token = await tokens_for(client, app, person)
    assert (await revoke(client, app, token["refresh_token"])).status_code == 200
    assert await me(client, token["access_token"]) == 401


async def test_rfc7009_unknown_token_is_a_success(client: httpx.AsyncClient,
                                                  make_app) -> None:
    app = await make_app()
    for hint in ({}, {"token_type_hint": "access_token"},
                 {"token_type_hint": "refresh_token"}):
        revoked = await revoke(client, app, "no-such-token", **hint)
        assert revoked.status_code == 200, revoked.text


async def test_rfc7009_revocation_needs_client_authentication(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    app = await make_app()
    person = await make_person()
    token = await tokens_for(client, app, person)
    for auth in ({"client_id": app.client_id},
                 {"client_id": app.client_id, "client_secret": "wrong"}, {}):
        refused = await client.post("/oauth/revoke", data={"token": token["access_token"],
                                                           **auth})
        assert refused.status_code == 401, (auth, refused.text)
        assert refused.json()["error"] == "invalid_client"
    assert await me(client, token["access_token"]) == 200


async def test_rfc7009_another_app_cannot_revoke_a_token(client: httpx.AsyncClient, make_app,
                                                         make_person) -> None:
    app = await make_app()
    other = await make_app()
    person = await make_person()
    token = await tokens_for(client, app, person)
    for value in (token["access_token"], token["refresh_token"]):
        refused = await revoke(client, other, value)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_grant"
    assert await me(client, token["access_token"]) == 200
    assert (await refresh(client, app, token["refresh_token"])).status_code == 200
