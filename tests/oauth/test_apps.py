"""Apps registered and managed by admins, the authorizations people see and revoke, apps
added to services, and the audit trail of all of it."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from fireline.core.audit import AuditEvent
from fireline.core.db import Database
from tests.conftest import Actor
from tests.incidents.helpers import create_service
from tests.oauth.conftest import REDIRECT_URI, bearer, exchange


async def _register(client: httpx.AsyncClient, admin: Actor, **fields: object) -> httpx.Response:
    body = {"name": "VectorShift", "redirect_uris": [REDIRECT_URI], **fields}
    return await client.post("/api/oauth_apps", headers=admin.headers, json={"oauth_app": body})


async def test_admin_registers_lists_disables_and_deletes_an_app(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    created = await _register(client, admin, scopes=["write"])
    assert created.status_code == 201, created.text
    app = created.json()["oauth_app"]
    assert app["client_id"] and app["client_secret"] and app["scopes"] == ["write"]
    assert app["public"] is False and app["disabled"] is False

    listed = (await client.get("/api/oauth_apps", headers=admin.headers)).json()["oauth_apps"]
    assert [item["id"] for item in listed] == [app["id"]]
    assert "client_secret" not in listed[0]  # shown once, at registration
    got = await client.get(f"/api/oauth_apps/{app['id']}", headers=admin.headers)
    assert "client_secret" not in got.json()["oauth_app"]

    disabled = await client.patch(f"/api/oauth_apps/{app['id']}", headers=admin.headers,
                                  json={"oauth_app": {"disabled": True}})
    assert disabled.json()["oauth_app"]["disabled"] is True
    deleted = await client.delete(f"/api/oauth_apps/{app['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    assert (await client.get(f"/api/oauth_apps/{app['id']}",
                             headers=admin.headers)).status_code == 404

    async with db.session() as session:
        actions = list(await session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == app["id"])
            .order_by(AuditEvent.occurred_at)))
    assert actions == ["oauth_app.created", "oauth_app.disabled", "oauth_app.deleted"]


async def test_a_public_app_has_no_secret(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    created = await _register(client, admin, public=True,
                              redirect_uris=["http://127.0.0.1/callback"])
    assert created.status_code == 201, created.text
    assert created.json()["oauth_app"]["public"] is True
    assert "client_secret" not in created.json()["oauth_app"]


async def test_bad_registrations_are_clear_errors(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    for fields, words in [
        ({"redirect_uris": []}, "At least one redirect URI"),
        ({"redirect_uris": ["http://app.example.com/cb"]}, "loopback"),
        ({"redirect_uris": ["https://app.example.com/cb#frag"]}, "fragment"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "must be https"),
        ({"scopes": ["everything"]}, "Unknown scope"),
        ({"name": " "}, "name"),
    ]:
        refused = await _register(client, admin, **fields)
        assert refused.status_code == 400, fields
        assert words in refused.json()["error"]["message"], refused.text
    assert (await client.get("/api/oauth_apps", headers=admin.headers)).json()["oauth_apps"] == []


async def test_only_admins_manage_apps(client: httpx.AsyncClient, make_actor) -> None:
    manager: Actor = await make_actor("manager")
    assert (await _register(client, manager)).status_code == 403
    assert (await client.get("/api/oauth_apps", headers=manager.headers)).status_code == 403


async def test_people_see_the_apps_they_authorized_and_revoke_one(
    client: httpx.AsyncClient, make_app, make_person, db: Database
) -> None:
    app = await make_app()
    person = await make_person("responder")
    code = (await person.authorize(app, scope="write"))["code"][0]
    token = (await exchange(client, app, code)).json()
    assert (await client.get("/api/users/me", headers=bearer(token["access_token"]))
            ).status_code == 200

    listed = await client.get("/api/oauth_authorizations", headers=person.actor.headers)
    [entry] = listed.json()["oauth_authorizations"]
    assert entry["app"] == {"id": app.id, "name": "VectorShift", "client_id": app.client_id}
    assert entry["scopes"] == ["write"]
    assert entry["authorized_at"] and "last_used_at" in entry

    revoked = await client.delete(f"/api/oauth_authorizations/{app.id}",
                                  headers=person.actor.headers)
    assert revoked.status_code == 204
    after = await client.get("/api/users/me", headers=bearer(token["access_token"]))
    assert after.status_code == 401
    assert after.json()["error"]["code"] == 2006
    assert 'error="invalid_token"' in after.headers["www-authenticate"]
    refreshed = await client.post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": token["refresh_token"],
        "client_id": app.client_id, "client_secret": app.client_secret})
    assert refreshed.json()["error"] == "invalid_grant"
    assert (await client.get("/api/oauth_authorizations", headers=person.actor.headers)
            ).json()["oauth_authorizations"] == []
    again = await client.delete(f"/api/oauth_authorizations/{app.id}",
                                headers=person.actor.headers)
    assert again.status_code == 404

    # "Reconnect": the app sends the person through authorization again.
    code = (await person.authorize(app, scope="write"))["code"][0]
    renewed = (await exchange(client, app, code)).json()
    assert (await client.get("/api/users/me", headers=bearer(renewed["access_token"]))
            ).status_code == 200
    async with db.session() as session:
        events = list(await session.scalars(select(AuditEvent)))
    by_person = {event.action for event in events if event.actor_id == person.actor.user.id}
    assert {"oauth_app.authorized", "oauth_authorization.revoked"} <= by_person
    # The app exchanges the code: the grant is recorded as its act, for the person.
    grants = [event for event in events if event.action == "oauth.grant.created"]
    assert len(grants) == 2
    assert {event.actor for event in grants} == {f"oauth_app:{app.id}"}
    assert {event.details["user_id"] for event in grants} == {person.actor.user.id}


async def test_an_app_is_added_to_a_service_with_no_key(
    client: httpx.AsyncClient, make_actor, make_app
) -> None:
    admin: Actor = await make_actor("admin")
    app = await make_app(admin=admin)
    service = await create_service(client, admin, "Payments")
    added = await client.post(
        f"/api/services/{service['id']}/integrations", headers=admin.headers,
        json={"integration": {"type": "app_integration",
                              "vendor": {"id": app.id, "type": "vendor_reference"}}})
    assert added.status_code == 201, added.text
    integration = added.json()["integration"]
    assert integration["integration_key"] is None
    assert integration["name"] == "VectorShift"
    assert integration["vendor"] == {"id": app.id, "type": "vendor_reference",
                                     "summary": "VectorShift"}
    shown = (await client.get(f"/api/services/{service['id']}", headers=admin.headers)).json()
    assert [item["id"] for item in shown["service"]["integrations"]] == [integration["id"]]
    unknown = await client.post(
        f"/api/services/{service['id']}/integrations", headers=admin.headers,
        json={"integration": {"type": "app_integration",
                              "vendor": {"id": "PNOPE", "type": "vendor_reference"}}})
    assert unknown.status_code == 400


async def test_deleting_a_user_ends_their_tokens_and_keys(
    client: httpx.AsyncClient, make_actor, make_app, make_person
) -> None:
    admin: Actor = await make_actor("admin")
    app = await make_app(admin=admin)
    person = await make_person("responder")
    code = (await person.authorize(app, scope="read"))["code"][0]
    token = (await exchange(client, app, code)).json()["access_token"]
    removed = await client.delete(f"/api/users/{person.actor.user.id}", headers=admin.headers)
    assert removed.status_code == 204
    assert (await client.get("/api/users/me", headers=bearer(token))).status_code == 401
    assert (await client.get("/api/users/me", headers=person.actor.headers)).status_code == 401
    assert (await client.get(f"/api/users/{person.actor.user.id}",
                             headers=admin.headers)).status_code == 404


async def test_nobody_removes_the_owner_or_themselves_and_only_admins_remove(
    client: httpx.AsyncClient, make_actor
) -> None:
    owner: Actor = await make_actor("owner")
    admin: Actor = await make_actor("admin")
    manager: Actor = await make_actor("manager")
    assert (await client.delete(f"/api/users/{owner.user.id}",
                                headers=admin.headers)).status_code == 400
    assert (await client.delete(f"/api/users/{admin.user.id}",
                                headers=admin.headers)).status_code == 400
    assert (await client.delete(f"/api/users/{admin.user.id}",
                                headers=manager.headers)).status_code == 403
    assert (await client.delete("/api/users/PNOPE", headers=admin.headers)).status_code == 404
