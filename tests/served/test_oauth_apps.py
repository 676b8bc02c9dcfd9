"""Fireline as an OAuth 2.0 authorization server, through `fireline serve` over HTTPS, once.

An admin registers an app with the CLI (`fireline oauth-apps create`), as the docs say to;
nothing else is registered by hand. Authlib's own OAuth 2.0 client (its httpx integration)
discovers the endpoints from the RFC 8414 metadata, makes the authorization URL (PKCE, S256),
and the test, playing the owner's browser, opens it: the served process sends it to the real
sign-in page, then back to the consent page, whose "Allow" redirects (303) to the app's loopback
redirect URI, where nothing listens: the code is read from the `Location` header. The app
exchanges it, walks the REST API with the token (incidents, notes, log entries, users), refreshes
(rotation), has a replayed refresh token refused and its whole family revoked, is authorized
again, and loses its token when the person revokes it from their account — then reconnects.
The official `pagerduty` client, given an access token (`auth_type="oauth2"`), walks the same
endpoints. No secret the app holds ever reaches the served process's log.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pagerduty
import pytest
import trustme
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client

from fireline.accounts.permissions import SESSION_COOKIE, csrf_token_for
from tests.served.harness import BIN, PD_ACCEPT, Served, free_port

SCOPE = "read write"  # what the CLI registers by default, asked for in full
RESPONDER_EMAIL = "oauth-responder@example.com"


@pytest.fixture(scope="module")
def served_tls(served_ca: trustme.CA) -> Iterator[Served]:
    """`fireline serve` over HTTPS (the `pagerduty` client refuses anything else), no tools."""
    with Served.start({}, tls=served_ca) as running:
        yield running


def cli(served: Served, *args: str) -> str:
    """The venv's `fireline`, on the served instance's home and database."""
    done = subprocess.run([str(BIN), *args], env=served.env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture(scope="module")
def responder_id(served_tls: Served) -> str:
    """Someone to reassign incidents to."""
    return cli(served_tls, "users", "create", "--email", RESPONDER_EMAIL, "--name",
               "OAuth Responder", "--role", "responder").strip()


@pytest.fixture(scope="module")
def owner_id(served_tls: Served) -> str:
    me = served_tls.http.get("/api/users/me")
    assert me.status_code == 200, me.text
    return str(me.json()["user"]["id"])


def new_service(served: Served, name: str) -> str:
    """A service, made with the admin API key."""
    created = served.http.post("/api/services", json={"service": {"name": name}})
    assert created.status_code == 201, created.text
    return str(created.json()["service"]["id"])


@dataclass
class RegisteredApp:
    name: str
    id: str
    client_id: str
    client_secret: str
    redirect_uri: str


def register_app(served: Served, name: str) -> RegisteredApp:
    # A loopback redirect URI where nothing listens: the browser never follows it.
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    printed = json.loads(cli(served, "oauth-apps", "create", "--name", name,
                             "--redirect-uri", redirect_uri))
    assert printed["public"] is False and printed["scopes"] == SCOPE.split(), printed
    assert printed["redirect_uris"] == [redirect_uri]
    return RegisteredApp(name, printed["id"], printed["client_id"], printed["client_secret"],
                         redirect_uri)


def metadata(served: Served) -> dict[str, Any]:
    found = httpx.get(f"{served.base_url}/.well-known/oauth-authorization-server",
                      verify=served.verify, timeout=30)
    assert found.status_code == 200, found.text
    body: dict[str, Any] = found.json()
    assert body["issuer"] == served.base_url
    assert "S256" in body["code_challenge_methods_supported"]
    return body


def oauth_client(served: Served, app: RegisteredApp, *,
                 auth_method: str = "client_secret_basic") -> OAuth2Client:
    """Authlib's client for `app`, told only the issuer's metadata. `client_secret_basic` is
    Authlib's default (and RFC 6749 §2.3.1's: servers MUST support it)."""
    found = metadata(served)
    assert auth_method in found["token_endpoint_auth_methods_supported"]
    assert auth_method in found["revocation_endpoint_auth_methods_supported"]
    return OAuth2Client(
        client_id=app.client_id, client_secret=app.client_secret, scope=SCOPE,
        token_endpoint_auth_method=auth_method, revocation_endpoint_auth_method=auth_method,
        redirect_uri=app.redirect_uri, code_challenge_method="S256",
        token_endpoint=found["token_endpoint"], revocation_endpoint=found["revocation_endpoint"],
        authorization_endpoint=found["authorization_endpoint"],
        base_url=served.base_url, verify=served.verify, timeout=60,
        headers={"Accept": PD_ACCEPT})


@dataclass
class Browser:
    """The owner's browser: a cookie jar, following nothing by itself, submitting the forms
    the pages show."""

    served: Served
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.served.base_url, verify=self.served.verify,
                                 follow_redirects=False, timeout=60)

    def close(self) -> None:
        self.http.close()

    @property
    def csrf(self) -> dict[str, str]:
        return {"X-CSRF-Token": csrf_token_for(self.http.cookies[SESSION_COOKIE])}

    def sign_in(self, login_url: str) -> httpx.Response:
        """The sign-in page, filled in; returns the page it leads back to."""
        page = self.http.get(login_url)
        assert page.status_code == 200, page.text
        sent_on = re.search(r'name="next" value="([^"]*)"', page.text)
        assert sent_on, page.text
        next_page = html.unescape(sent_on[1])
        assert next_page.startswith("/oauth/authorize?"), next_page
        signed_in = self.http.post("/login", data={
            "email": self.served.owner_email, "password": self.served.owner_password,
            "next": next_page}, headers={"Origin": self.served.base_url})
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == next_page
        return self.http.get(next_page)

    def authorize(self, url: str, *, app_name: str, expect_sign_in: bool) -> str:
        """Opens an authorization URL, signs in when sent to, allows; returns where the
        answer redirects to (the app's redirect URI with the code)."""
        page = self.http.get(url)
        if expect_sign_in:
            assert page.status_code == 303, page.text
            assert urlsplit(page.headers["location"]).path == "/login"
            page = self.sign_in(page.headers["location"])
        assert page.status_code == 200, page.text
        assert f"Authorize {app_name}" in page.text
        assert self.served.owner_email in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        action = re.search(r'action="(/oauth/authorize\?[^"]*)"', page.text)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert action and csrf, page.text
        answered = self.http.post(html.unescape(action[1]), data={
            "csrf_token": csrf[1], "decision": "allow"})
        assert answered.status_code == 303, answered.text
        return answered.headers["location"]

    def authorizations(self) -> list[dict[str, Any]]:
        listed = self.http.get("/api/oauth_authorizations", headers={"Accept": PD_ACCEPT})
        assert listed.status_code == 200, listed.text
        return listed.json()["oauth_authorizations"]  # type: ignore[no-any-return]

    def revoke(self, app_id: str) -> None:
        """What "Revoke" on the account's authorized apps sends: session cookie + CSRF."""
        revoked = self.http.delete(f"/api/oauth_authorizations/{app_id}",
                                   headers={"Accept": PD_ACCEPT, **self.csrf})
        assert revoked.status_code == 204, revoked.text


@dataclass
class Secrets:
    """Everything an app holds that must never be written to a log."""

    values: list[str] = field(default_factory=list)

    def add(self, *found: str | None) -> None:
        self.values.extend(value for value in found if value)

    def check_absent_from(self, served: Served) -> None:
        log = served.log()
        assert log.strip(), "the served process logged nothing at all"
        leaked = [value[:6] for value in self.values if value in log]
        assert not leaked, f"secrets (first characters) found in the serve log: {leaked}"


def connect(client: OAuth2Client, browser: Browser, app: RegisteredApp, secrets_: Secrets, *,
            expect_sign_in: bool) -> dict[str, Any]:
    """Authorization code + PKCE, through the served sign-in and consent pages."""
    verifier = secrets.token_urlsafe(48)
    url, state = client.create_authorization_url(client.metadata["authorization_endpoint"],
                                                 code_verifier=verifier)
    assert "code_challenge=" in url and "code_challenge_method=S256" in url
    location = browser.authorize(url, app_name=app.name, expect_sign_in=expect_sign_in)
    back = urlsplit(location)
    assert f"{back.scheme}://{back.netloc}{back.path}" == app.redirect_uri
    query = parse_qs(back.query)
    assert query["state"] == [state]
    assert query["iss"] == [browser.served.base_url]  # RFC 9207
    secrets_.add(query["code"][0])
    token = client.fetch_token(authorization_response=location, state=state,
                               code_verifier=verifier)
    assert token["token_type"].lower() == "bearer"
    assert token["scope"] == SCOPE
    assert token["expires_in"] > 0
    assert token["refresh_token"] and token["refresh_token"] != token["access_token"]
    secrets_.add(token["access_token"], token["refresh_token"])
    return dict(token)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.request.method, response.request.url,
                                            response.status_code, response.text)
    return response.json()  # type: ignore[no-any-return]


def assert_dead(response: httpx.Response) -> None:
    """A token that no longer works: 401 with PagerDuty's error shape and RFC 6750's header."""
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == 2006 and error["message"], error
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def bearer(token: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}", "Accept": PD_ACCEPT}


LOG_TYPES = {"trigger_log_entry", "acknowledge_log_entry", "assign_log_entry",
             "urgency_change_log_entry", "priority_change_log_entry", "annotate_log_entry",
             "resolve_log_entry"}


def walk_with_authlib(api: OAuth2Client, *, service_id: str, owner_id: str,
                      responder_id: str) -> None:
    """Every endpoint the issue lists, as raw PagerDuty REST v2, through Authlib's session."""
    me = ok(api.get("/api/users/me"))["user"]
    assert me["id"] == owner_id  # the token acts as the person who allowed it
    assert ok(api.get(f"/api/users/{responder_id}"))["user"]["email"] == RESPONDER_EMAIL
    users = ok(api.get("/api/users"))["users"]
    assert {owner_id, responder_id} <= {user["id"] for user in users}

    # No `From` header: an OAuth token is its user's, as PagerDuty's are.
    created = ok(api.post("/api/incidents", json={"incident": {
        "type": "incident", "title": "Checkout 500s (Authlib)",
        "service": {"id": service_id, "type": "service_reference"}, "urgency": "high",
        "body": {"type": "incident_body", "details": "5% of requests"}}}), 201)["incident"]
    incident_id = created["id"]
    assert created["status"] == "triggered"
    got = ok(api.get(f"/api/incidents/{incident_id}"))["incident"]
    assert got["title"] == "Checkout 500s (Authlib)"
    listed = ok(api.get("/api/incidents", params={"service_ids[]": service_id}))["incidents"]
    assert incident_id in [item["id"] for item in listed]

    def update(changes: dict[str, Any]) -> dict[str, Any]:
        updated: dict[str, Any] = ok(api.put(f"/api/incidents/{incident_id}", json={
            "incident": {"type": "incident_reference", **changes}}))["incident"]
        return updated

    assert update({"status": "acknowledged"})["status"] == "acknowledged"
    reassigned = update({"assignments": [
        {"assignee": {"id": responder_id, "type": "user_reference"}}]})
    assert [a["assignee"]["id"] for a in reassigned["assignments"]] == [responder_id]
    priority = ok(api.get("/api/priorities"))["priorities"][0]
    changed = update({"title": "Checkout 500s (Authlib, renamed)", "urgency": "low",
                      "priority": {"id": priority["id"], "type": "priority_reference"}})
    assert (changed["title"], changed["urgency"], changed["priority"]["id"]) == (
        "Checkout 500s (Authlib, renamed)", "low", priority["id"])

    note = ok(api.post(f"/api/incidents/{incident_id}/notes",
                       json={"note": {"content": "Rolled back v42"}}), 201)["note"]
    assert note["user"]["id"] == owner_id
    notes = ok(api.get(f"/api/incidents/{incident_id}/notes"))["notes"]
    assert [item["content"] for item in notes] == ["Rolled back v42"]

    resolved = ok(api.put("/api/incidents", json={"incidents": [
        {"id": incident_id, "type": "incident_reference", "status": "resolved"}]}))["incidents"]
    assert [item["status"] for item in resolved] == ["resolved"]

    entries = ok(api.get(f"/api/incidents/{incident_id}/log_entries"))["log_entries"]
    assert {entry["type"] for entry in entries} >= LOG_TYPES, entries
    trigger = next(entry for entry in entries if entry["type"] == "trigger_log_entry")
    assert trigger["agent"]["id"] == owner_id
    entry = ok(api.get(f"/api/log_entries/{trigger['id']}"))["log_entry"]
    assert entry["incident"]["id"] == incident_id
    everywhere = ok(api.get("/api/log_entries", params={"limit": 100}))["log_entries"]
    assert {item["id"] for item in entries} <= {item["id"] for item in everywhere}


def test_authlib_client_connects_walks_the_api_refreshes_and_is_revoked(
    served_tls: Served, owner_id: str, responder_id: str
) -> None:
    served = served_tls
    app = register_app(served, "Served OAuth app")
    held = Secrets()
    held.add(app.client_secret)
    service_id = new_service(served, "OAuth (Authlib)")
    with closing(oauth_client(served, app)) as client, closing(Browser(served)) as browser:
        first = connect(client, browser, app, held, expect_sign_in=True)
        walk_with_authlib(client, service_id=service_id, owner_id=owner_id,
                          responder_id=responder_id)
        [authorized] = browser.authorizations()
        assert authorized["app"]["id"] == app.id
        assert authorized["scopes"] == SCOPE.split()
        # Managing authorizations is for people, never for tokens.
        refused = client.get("/api/oauth_authorizations")
        assert refused.status_code == 403, refused.text

        # Refresh: a new pair; the old refresh token is spent.
        second = dict(client.refresh_token(refresh_token=first["refresh_token"]))
        held.add(second["access_token"], second["refresh_token"])
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        assert ok(client.get("/api/users/me"))["user"]["id"] == owner_id  # the new token
        # A replayed refresh token is refused, and revokes every token of its family.
        with pytest.raises(OAuthError) as replayed:
            client.refresh_token(refresh_token=first["refresh_token"])
        assert replayed.value.error == "invalid_grant"
        assert_dead(client.get("/api/users/me"))
        assert_dead(httpx.get(f"{served.base_url}/api/users/me", headers=bearer(first),
                              verify=served.verify))
        with pytest.raises(OAuthError) as family:
            client.refresh_token(refresh_token=second["refresh_token"])
        assert family.value.error == "invalid_grant"
        assert browser.authorizations() == []

        # Authorized again (already signed in: straight to the consent page).
        third = connect(client, browser, app, held, expect_sign_in=False)
        assert ok(client.get(f"/api/incidents/{_any_incident(client, service_id)}"))
        assert [item["app"]["id"] for item in browser.authorizations()] == [app.id]

        # The person revokes the app from their account: its token dies at once.
        browser.revoke(app.id)
        assert_dead(client.get("/api/users/me"))
        assert_dead(client.get("/api/incidents"))
        assert browser.authorizations() == []
        with pytest.raises(OAuthError) as after_revoke:
            client.refresh_token(refresh_token=third["refresh_token"])
        assert after_revoke.value.error == "invalid_grant"

        # "Reconnect": a new authorization works, and walks the API again.
        fourth = connect(client, browser, app, held, expect_sign_in=False)
        walk_with_authlib(client, service_id=service_id, owner_id=owner_id,
                          responder_id=responder_id)
        assert [item["app"]["id"] for item in browser.authorizations()] == [app.id]

        # The app disconnects itself (RFC 7009, client_secret_basic): the family ends.
        revoked = client.revoke_token(client.metadata["revocation_endpoint"],
                                      token=fourth["refresh_token"],
                                      token_type_hint="refresh_token")
        assert revoked.status_code == 200, revoked.text
        assert_dead(client.get("/api/users/me"))
        assert browser.authorizations() == []
    held.check_absent_from(served)


def _any_incident(api: OAuth2Client, service_id: str) -> str:
    listed = ok(api.get("/api/incidents", params={"service_ids[]": service_id}))["incidents"]
    assert listed
    return str(listed[0]["id"])


def test_pagerduty_client_walks_the_api_with_an_oauth_token(
    served_tls: Served, owner_id: str, responder_id: str
) -> None:
    served = served_tls
    app = register_app(served, "Served PagerDuty app")
    held = Secrets()
    held.add(app.client_secret)
    service_id = new_service(served, "OAuth (pagerduty)")
    # This app authenticates with client_secret_post, the other method the metadata lists.
    with closing(oauth_client(served, app, auth_method="client_secret_post")) as client:
        with closing(Browser(served)) as browser:
            token = connect(client, browser, app, held, expect_sign_in=True)
        rest = pagerduty.RestApiV2Client(token["access_token"], auth_type="oauth2",
                                         base_url=f"{served.base_url}/api", verify=served.verify)
        with rest:
            rest.retry[429] = 0  # fail fast instead of backing off
            assert rest.headers.get("From") is None  # no default_from: the token names its user
            me = rest.rget("/users/me")
            assert me["id"] == owner_id
            assert rest.rget(f"/users/{responder_id}")["email"] == RESPONDER_EMAIL
            assert {owner_id, responder_id} <= {user["id"] for user in rest.list_all("/users")}

            created = [rest.rpost("/incidents", json={
                "type": "incident", "title": f"Queue backlog #{i}",
                "service": {"id": service_id, "type": "service_reference"},
                "urgency": "high" if i % 2 == 0 else "low"}) for i in range(3)]
            assert {item["status"] for item in created} == {"triggered"}
            got = rest.rget(f"/incidents/{created[0]['id']}")
            assert got["title"] == "Queue backlog #0"
            paged = list(rest.iter_all("/incidents", params={"service_ids": [service_id]},
                                       page_size=2))
            assert [item["id"] for item in paged] == [item["id"] for item in created]
            high = rest.list_all("/incidents", params={"service_ids": [service_id],
                                                        "urgencies": ["high"]})
            assert len(high) == 2

            acknowledged = rest.rput(got, json={"type": "incident_reference",
                                                "status": "acknowledged"})
            assert acknowledged["status"] == "acknowledged"
            reassigned = rest.rput(got, json={"type": "incident_reference", "assignments": [
                {"assignee": {"id": responder_id, "type": "user_reference"}}]})
            assert [a["assignee"]["id"] for a in reassigned["assignments"]] == [responder_id]
            priority = rest.list_all("/priorities")[0]
            changed = rest.rput(f"/incidents/{got['id']}", json={
                "type": "incident_reference", "title": "Queue backlog #0 (renamed)",
                "urgency": "low", "priority": {"id": priority["id"], "type": "priority_reference"}})
            assert (changed["title"], changed["urgency"], changed["priority"]["id"]) == (
                "Queue backlog #0 (renamed)", "low", priority["id"])

            note = rest.rpost(f"/incidents/{got['id']}/notes", json={"content": "Scaled workers"})
            assert note["user"]["id"] == owner_id
            assert [item["content"] for item in rest.rget(f"/incidents/{got['id']}/notes")] == [
                "Scaled workers"]

            resolved = rest.rput("/incidents", json=[
                {"id": item["id"], "type": "incident_reference", "status": "resolved"}
                for item in created])
            assert {item["status"] for item in resolved} == {"resolved"}

            entries = list(rest.iter_all(f"/incidents/{got['id']}/log_entries", page_size=2))
            assert {entry["type"] for entry in entries} >= LOG_TYPES, entries
            entry = rest.rget(f"/log_entries/{entries[0]['id']}")
            assert entry["incident"]["id"] == got["id"]
            assert rest.rget(entry["agent"])["id"] == owner_id  # through the agent's `self` URL
            everywhere = {item["id"] for item in rest.iter_all("/log_entries", page_size=5)}
            assert {item["id"] for item in entries} <= everywhere

            # The app revokes its own authorization (RFC 7009): the client's next call fails.
            revoked = client.revoke_token(client.metadata["revocation_endpoint"],
                                          token=token["refresh_token"],
                                          token_type_hint="refresh_token")
            assert revoked.status_code == 200, revoked.text
            with pytest.raises(pagerduty.HttpError) as dead:
                rest.rget("/users/me")
            assert_dead(dead.value.response)  # type: ignore[arg-type]
    held.check_absent_from(served)


def test_an_app_is_added_to_a_service_without_an_integration_key(served_tls: Served) -> None:
    served = served_tls
    app = register_app(served, "Served vendor app")
    service_id = new_service(served, "OAuth (vendor)")
    added = ok(served.http.post(f"/api/services/{service_id}/integrations", json={
        "integration": {"type": "app_integration",
                        "vendor": {"id": app.id, "type": "vendor_reference"}}}), 201)
    integration = added["integration"]
    assert integration["type"] == "app_integration"
    assert integration["integration_key"] is None
    assert integration["vendor"] == {"id": app.id, "type": "vendor_reference",
                                     "summary": "Served vendor app"}
    assert integration["name"] == "Served vendor app"
    service = ok(served.http.get(f"/api/services/{service_id}"))["service"]
    assert [(item["id"], item["type"]) for item in service["integrations"]] == [
        (integration["id"], "app_integration_reference")]
    again = ok(served.http.get(f"/api/services/{service_id}/integrations/{integration['id']}"))
    assert again["integration"] == integration
    Secrets([app.client_secret]).check_absent_from(served)

