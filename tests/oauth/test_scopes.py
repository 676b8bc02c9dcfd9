"""OA-10: what an OAuth token may call, from the one table (`oauth.scopes.ROUTE_SCOPES`).

The table is checked against the app's real routes, and the refusals are generated from the
table, so a route added without a scope (or a scope left behind by a removed route) fails
here. A token's reach is its scopes intersected with its user's rights, and each
authorization is rate limited as an API key is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from fireline.core.db import Database
from fireline.oauth import scopes
from fireline.oauth.scopes import ROUTE_SCOPES, covers
from fireline.settings import Settings
from tests.conftest import Actor
from tests.incidents.helpers import create_service
from tests.oauth.conftest import ISSUER, App, Person, bearer, exchange

_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
_CONNECTION = "/api/workflows/integrations/{integration_id}/connections/{connection_id}"
RATE_LIMIT = 4


@pytest.fixture
def settings(request: pytest.FixtureRequest, db: Database, home: Path,
             master_key: str) -> Settings:
    """As in tests/oauth/conftest.py; `@pytest.mark.parametrize("settings", [N],
    indirect=True)` sets FIRELINE_REST_RATE_LIMIT_PER_MINUTE to N."""
    env = {
        "FIRELINE_HOME": str(home),
        "FIRELINE_DATABASE_URL": db.url,
        "FIRELINE_BASE_URL": ISSUER,
        "FIRELINE_MASTER_KEY": master_key,
    }
    limit = getattr(request, "param", None)
    if limit is not None:
        env["FIRELINE_REST_RATE_LIMIT_PER_MINUTE"] = str(limit)
    return Settings.from_env(env)


# Helpers ------------------------------------------------------------------------------------

def _schema_operations(app: FastAPI) -> set[tuple[str, str]]:
    return {(method.upper(), path)
            for path, item in app.openapi()["paths"].items()
            for method in item if method in _HTTP_METHODS}


def _api_routes(app: FastAPI) -> set[tuple[str, str, bool]]:
    """(method, path, in schema) of every FastAPI route. FastAPI 0.165 keeps included routers
    as `_IncludedRouter` branches in `app.routes`: their routes come from
    `effective_route_contexts()` (with the inclusion's prefix applied)."""
    found: set[tuple[str, str, bool]] = set()
    for route in app.routes:
        contexts: Any = getattr(route, "effective_route_contexts", None)
        candidates: list[Any] = list(contexts()) if contexts is not None else [route]
        for context in candidates:
            if isinstance(getattr(context, "original_route", context), APIRoute):
                found |= {(method, context.path, bool(context.include_in_schema))
                          for method in context.methods}
    return found


def _rest_operations(app: FastAPI) -> set[tuple[str, str]]:
    """Every REST operation: the OpenAPI document's, and routes under /api it leaves out."""
    documented = {op for op in _schema_operations(app) if op[1].startswith("/api/")}
    hidden = {(method, path) for method, path, shown in _api_routes(app)
              if path.startswith("/api/") and not shown}
    return documented | hidden


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "PNOPE", path)


async def _token(client: httpx.AsyncClient, app: App, person: Person, scope: str) -> str:
    redirect = await person.authorize(app, scope=scope)
    issued = await exchange(client, app, redirect["code"][0])
    assert issued.status_code == 200, issued.text
    assert set(issued.json()["scope"].split()) == set(scope.split())
    return issued.json()["access_token"]  # type: ignore[no-any-return]


def _assert_denied(response: httpx.Response, missing: str | None = None) -> None:
    """PagerDuty's 403: `{"error": {"message", "code": 2010, "errors"}}`."""
    assert response.status_code == 403, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "code", "errors"}
    assert body["error"]["code"] == 2010
    if missing is not None:
        assert missing in body["error"]["message"]
        assert body["error"]["errors"] == [f"Missing scope: {missing}"]


WRITE_ROUTES = sorted((method, path) for (method, path), scope in ROUTE_SCOPES.items()
                      if method != "GET" and scope is not None)
NO_TOKEN_ROUTES = sorted(route for route, scope in ROUTE_SCOPES.items() if scope is None)


def _route_id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"


# The table against the app ------------------------------------------------------------------

async def test_route_table_lists_exactly_the_apps_rest_routes(app: FastAPI) -> None:
    documented = _schema_operations(app)
    walked = {(method, path) for method, path, _ in _api_routes(app)}
    # The walk sees the whole app: every documented operation is one of its routes.
    assert documented <= walked, sorted(documented - walked)
    operations = _rest_operations(app)
    assert operations, "no REST route found"
    missing = sorted(operations - ROUTE_SCOPES.keys())
    stale = sorted(ROUTE_SCOPES.keys() - operations)
    assert not missing, f"routes without a scope in ROUTE_SCOPES: {missing}"
    assert not stale, f"ROUTE_SCOPES entries that are no route: {stale}"


async def test_hidden_put_of_a_connection_is_a_real_route_in_the_table(app: FastAPI) -> None:
    """`PUT` of a connection is left out of the OpenAPI document (include_in_schema=False,
    src/fireline/connections/views.py) but served: the table must still give it a scope."""
    assert ("PUT", _CONNECTION) not in _schema_operations(app)
    assert ("PUT", _CONNECTION, False) in _api_routes(app)
    hidden = {(method, path) for method, path, shown in _api_routes(app)
              if path.startswith("/api/") and not shown}
    assert hidden == {("PUT", _CONNECTION)}
    assert ROUTE_SCOPES[("PUT", _CONNECTION)] == "workflow_integrations:connections.write"


def test_every_scope_in_the_table_is_known_and_described() -> None:
    for scope in {value for value in ROUTE_SCOPES.values() if value}:
        assert scope in scopes.KNOWN
        assert scope in scopes.SCOPE_DESCRIPTIONS


def test_write_routes_are_generated_from_the_whole_table() -> None:
    every_write = {route for route in ROUTE_SCOPES if route[0] != "GET"}
    assert set(WRITE_ROUTES) == every_write - set(NO_TOKEN_ROUTES)
    assert len(WRITE_ROUTES) >= 20


# covers() -----------------------------------------------------------------------------------

@pytest.mark.parametrize("required", sorted(scopes.SCOPED | {"read", "users.write"}))
def test_write_covers_everything(required: str) -> None:
    assert covers({"write"}, required)


@pytest.mark.parametrize("required", sorted(s for s in scopes.KNOWN if s.endswith(".read")))
def test_read_covers_every_read_scope(required: str) -> None:
    assert covers({"read"}, required)


@pytest.mark.parametrize("required", sorted(s for s in scopes.KNOWN
                                            if s.endswith(".write") or s == "write"))
def test_read_covers_no_write_scope(required: str) -> None:
    assert not covers({"read"}, required)


@pytest.mark.parametrize("write_scope", sorted(
    s for s in scopes.KNOWN
    if s.endswith(".write") and f"{s.removesuffix('.write')}.read" in scopes.KNOWN))
def test_a_write_scope_covers_its_read_scope(write_scope: str) -> None:
    assert covers({write_scope}, f"{write_scope.removesuffix('.write')}.read")


def test_covers_grants_nothing_more() -> None:
    assert covers({"incidents.read"}, "incidents.read")
    assert not covers({"incidents.read"}, "incidents.write")
    assert not covers({"incidents.write"}, "services.read")
    assert not covers({"services.write"}, "incidents.read")
    assert not covers({"incident_workflows.write"}, "incident_workflows:instances.write")
    assert not covers({"incident_workflows:instances.write"}, "incident_workflows.write")
    assert covers({"workflow_integrations:connections.write"},
                  "workflow_integrations:connections.read")
    assert not covers({"workflow_integrations:connections.write"},
                      "workflow_integrations.read")
    assert not covers(set(), "incidents.read")
    assert covers(["teams.read", "write"], "services.write")  # any iterable of scopes


# Refusals generated from the table ----------------------------------------------------------

@pytest.mark.parametrize("route", WRITE_ROUTES, ids=_route_id)
async def test_a_read_token_gets_403_on_every_write_route(
    client: httpx.AsyncClient, make_app, make_person, route: tuple[str, str]
) -> None:
    method, path = route
    app = await make_app()  # read and write
    person = await make_person("admin")  # the role could do it: only the scope refuses
    token = await _token(client, app, person, "read")
    response = await client.request(method, _fill(path), headers=bearer(token), json={})
    required = ROUTE_SCOPES[route]
    assert required
    _assert_denied(response, missing=required)


@pytest.mark.parametrize("scope", ["read", "write"])
@pytest.mark.parametrize("route", NO_TOKEN_ROUTES, ids=_route_id)
async def test_no_token_may_call_oauth_management_routes(
    client: httpx.AsyncClient, make_app, make_person, route: tuple[str, str], scope: str
) -> None:
    method, path = route
    app = await make_app()
    person = await make_person("admin")
    token = await _token(client, app, person, scope)
    kwargs: dict[str, Any] = {} if method in {"GET", "DELETE"} else {"json": {}}
    response = await client.request(method, _fill(path), headers=bearer(token), **kwargs)
    _assert_denied(response)
    assert response.json()["error"]["message"] == "OAuth tokens cannot call this endpoint"
    if method == "GET" and "{" not in path:
        # The same admin with an API key is let in: it is the token that is refused.
        allowed = await client.get(path, headers=person.actor.headers)
        assert allowed.status_code == 200, allowed.text


# Scoped tokens ------------------------------------------------------------------------------

async def test_a_scoped_token_reaches_only_its_scopes_routes(
    client: httpx.AsyncClient, make_app, make_person, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    person = await make_person("responder")
    reader_app = await make_app(scopes=["incidents.read"])
    reader = bearer(await _token(client, reader_app, person, "incidents.read"))
    writer_app = await make_app(scopes=["incidents.write"])
    writer = bearer(await _token(client, writer_app, person, "incidents.write"))

    for headers in (reader, writer):
        assert (await client.get("/api/incidents", headers=headers)).status_code == 200
        assert (await client.get("/api/log_entries", headers=headers)).status_code == 200
        me = await client.get("/api/users/me", headers=headers)  # any valid token
        assert me.status_code == 200, me.text
        assert me.json()["user"]["id"] == person.actor.user.id
        _assert_denied(await client.get("/api/services", headers=headers),
                       missing="services.read")
        _assert_denied(await client.get(f"/api/services/{service['id']}", headers=headers),
                       missing="services.read")
        _assert_denied(await client.get("/api/users", headers=headers), missing="users.read")

    body = {"incident": {"type": "incident", "title": "Disk full",
                         "service": {"id": service["id"], "type": "service_reference"}}}
    _assert_denied(await client.post("/api/incidents", headers=reader, json=body),
                   missing="incidents.write")
    created = await client.post("/api/incidents", headers=writer, json=body)
    assert created.status_code == 201, created.text
    incident = created.json()["incident"]
    got = await client.get(f"/api/incidents/{incident['id']}", headers=reader)
    assert got.status_code == 200, got.text
    _assert_denied(await client.post("/api/services", headers=writer,
                                     json={"service": {"name": "Other"}}),
                   missing="services.write")


async def test_users_me_works_with_a_token_of_any_scope(
    client: httpx.AsyncClient, make_app, make_person
) -> None:
    person = await make_person("observer")
    app = await make_app(scopes=["teams.read"])
    headers = bearer(await _token(client, app, person, "teams.read"))
    me = await client.get("/api/users/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["user"]["id"] == person.actor.user.id
    assert (await client.get("/api/teams", headers=headers)).status_code == 200
    _assert_denied(await client.get("/api/incidents", headers=headers),
                   missing="incidents.read")


# The VectorShift list -----------------------------------------------------------------------

async def test_a_write_token_of_a_responder_does_the_vectorshift_list(
    client: httpx.AsyncClient, make_app, make_person, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    service = await create_service(client, admin)
    person = await make_person("responder")
    me_id = person.actor.user.id
    headers = bearer(await _token(client, await make_app(), person, "write"))

    # Create an incident (no `From` header: a token acts as its user).
    created = await client.post("/api/incidents", headers=headers, json={"incident": {
        "type": "incident", "title": "Disk full", "urgency": "high",
        "service": {"id": service["id"], "type": "service_reference"},
        "body": {"type": "incident_body", "details": "95% on /var"}}})
    assert created.status_code == 201, created.text
    incident = created.json()["incident"]
    assert incident["status"] == "triggered"
    assert incident["last_status_change_by"]["id"] == me_id
    url = f"/api/incidents/{incident['id']}"

    got = await client.get(url, headers=headers)
    assert got.status_code == 200, got.text
    assert got.json()["incident"]["title"] == "Disk full"
    listed = await client.get("/api/incidents", headers=headers,
                              params={"service_ids[]": [service["id"]]})
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["incidents"]] == [incident["id"]]

    # Update it: acknowledge, change title and urgency, resolve.
    ack = await client.put(url, headers=headers, json={"incident": {
        "type": "incident_reference", "status": "acknowledged"}})
    assert ack.status_code == 200, ack.text
    assert ack.json()["incident"]["status"] == "acknowledged"
    assert ack.json()["incident"]["acknowledgements"][0]["acknowledger"]["id"] == me_id
    changed = await client.put(url, headers=headers, json={"incident": {
        "type": "incident_reference", "title": "Disk really full", "urgency": "low"}})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["incident"]["title"], changed.json()["incident"]["urgency"]) == (
        "Disk really full", "low")

    # Notes.
    note = await client.post(f"{url}/notes", headers=headers,
                             json={"note": {"content": "Rotating logs"}})
    assert note.status_code == 201, note.text
    assert note.json()["note"]["user"]["id"] == me_id
    notes = await client.get(f"{url}/notes", headers=headers)
    assert notes.status_code == 200, notes.text
    assert [item["content"] for item in notes.json()["notes"]] == ["Rotating logs"]

    resolved = await client.put(url, headers=headers, json={"incident": {
        "type": "incident_reference", "status": "resolved"}})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["incident"]["status"] == "resolved"

    # Log entries: per incident, account-wide, one by id.
    entries = await client.get(f"{url}/log_entries", headers=headers)
    assert entries.status_code == 200, entries.text
    types = [entry["type"] for entry in entries.json()["log_entries"]]
    assert {"trigger_log_entry", "acknowledge_log_entry", "resolve_log_entry"} <= set(types)
    everywhere = await client.get("/api/log_entries", headers=headers)
    assert everywhere.status_code == 200, everywhere.text
    assert {entry["id"] for entry in entries.json()["log_entries"]} <= {
        entry["id"] for entry in everywhere.json()["log_entries"]}
    trigger = next(entry for entry in entries.json()["log_entries"]
                   if entry["type"] == "trigger_log_entry")
    one = await client.get(f"/api/log_entries/{trigger['id']}", headers=headers)
    assert one.status_code == 200, one.text
    assert one.json()["log_entry"]["agent"]["id"] == me_id
    assert one.json()["log_entry"]["channel"]["type"] == "api"

    # Users.
    user = await client.get(f"/api/users/{admin.user.id}", headers=headers)
    assert user.status_code == 200, user.text
    assert user.json()["user"]["email"] == admin.user.email
    me = await client.get("/api/users/me", headers=headers)
    assert me.status_code == 200, me.text
    assert me.json()["user"]["id"] == me_id

    # Never more than the user's role: a responder cannot create services, even with `write`.
    denied = await client.post("/api/services", headers=headers,
                               json={"service": {"name": "Other"}})
    assert denied.status_code == 403, denied.text
    assert "Missing scope" not in denied.text


# Rate limits --------------------------------------------------------------------------------

async def _limited_token(client: httpx.AsyncClient, app: FastAPI, make_app, make_person
                         ) -> tuple[Person, App, dict[str, Any]]:
    # One window for the whole test: a minute boundary mid-test would reset the counts.
    app.state.rest_limiter.clock = lambda: 1_000_020.0
    assert app.state.rest_limiter.limit == RATE_LIMIT
    oauth_app = await make_app()
    person = await make_person("responder")
    redirect = await person.authorize(oauth_app, scope="read")
    issued = await exchange(client, oauth_app, redirect["code"][0])
    assert issued.status_code == 200, issued.text
    return person, oauth_app, issued.json()


@pytest.mark.parametrize("settings", [RATE_LIMIT], indirect=True)
async def test_each_authorization_is_rate_limited_apart_from_api_keys(
    client: httpx.AsyncClient, app: FastAPI, make_app, make_person
) -> None:
    person, oauth_app, token = await _limited_token(client, app, make_app, make_person)
    headers = bearer(token["access_token"])
    for _ in range(RATE_LIMIT):
        assert (await client.get("/api/users/me", headers=headers)).status_code == 200
    limited = await client.get("/api/users/me", headers=headers)
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"]["code"] == 2020
    assert set(limited.json()["error"]) == {"message", "code", "errors"}
    assert limited.headers["ratelimit-limit"] == str(RATE_LIMIT)
    assert limited.headers["ratelimit-remaining"] == "0"
    assert 0 < int(limited.headers["ratelimit-reset"]) <= 60

    # The API key of the same user has its own count.
    for _ in range(RATE_LIMIT):
        keyed = await client.get("/api/users/me", headers=person.actor.headers)
        assert keyed.status_code == 200, keyed.text
    assert (await client.get("/api/users/me",
                             headers=person.actor.headers)).status_code == 429

    # Per authorization: a refreshed token does not start a new count ...
    refreshed = await client.post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": oauth_app.client_id, "client_secret": oauth_app.client_secret})
    assert refreshed.status_code == 200, refreshed.text
    again = bearer(refreshed.json()["access_token"])
    assert (await client.get("/api/users/me", headers=again)).status_code == 429
    # ... while another authorization has its own.
    other_app = await make_app()
    redirect = await person.authorize(other_app, scope="read")
    other = await exchange(client, other_app, redirect["code"][0])
    assert other.status_code == 200, other.text
    other_headers = bearer(other.json()["access_token"])
    assert (await client.get("/api/users/me", headers=other_headers)).status_code == 200


@pytest.mark.parametrize("settings", [RATE_LIMIT], indirect=True)
async def test_a_rate_limited_token_is_told_when_to_retry(
    client: httpx.AsyncClient, app: FastAPI, make_app, make_person
) -> None:
    _, _, token = await _limited_token(client, app, make_app, make_person)
    headers = bearer(token["access_token"])
    for _ in range(RATE_LIMIT):
        assert (await client.get("/api/users/me", headers=headers)).status_code == 200
    limited = await client.get("/api/users/me", headers=headers)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == limited.headers["ratelimit-reset"]
