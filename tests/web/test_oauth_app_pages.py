"""The OAuth app pages in-process: admins register an app (its client secret shown once),
disable, enable and delete it; others get the 403 page; everyone sees the apps they
authorized and revokes one, which ends its tokens. Served at an https base URL, as OAuth 2.0
requires (tests/oauth does the same)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from fireline.core.audit import AuditEvent
from fireline.core.db import Database
from fireline.oauth import service as oauth
from tests.conftest import Actor
from tests.oauth import conftest as oauth_tests
from tests.oauth.conftest import ISSUER, REDIRECT_URI, App, Person, bearer, exchange
from tests.web.helpers import HTML, error_of, signed_in

# The OAuth tests' https app (OAuth needs TLS), as their own conftest builds it.
settings = oauth_tests.settings
client = oauth_tests.client


def _form(csrf: str, **fields: object) -> dict[str, object]:
    return {"csrf_token": csrf, "name": "VectorShift", "redirect_uris": REDIRECT_URI,
            "scopes": ["incidents.read", "users.read"], **fields}


async def _register(client: httpx.AsyncClient, db: Database, csrf: str, **fields: object
                    ) -> App:
    """Registers an app through the form; returns it with the secret shown once."""
    created = await client.post("/settings/oauth_apps/new", data=_form(csrf, **fields))
    assert created.status_code == 200, created.text
    client_id = re.search(r'<code id="client-id"[^>]*>([^<]+)</code>', created.text)
    secret = re.search(r'<code id="client-secret"[^>]*>([^<]+)</code>', created.text)
    assert client_id and secret, created.text
    async with db.session() as session:
        [app] = [app for app in await oauth.list_apps(session=session)
                 if app.client_id == client_id[1]]
    return App(app.id, client_id[1], secret[1], app.redirect_uris)


async def _actions(db: Database, target_id: str) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == target_id)
            .order_by(AuditEvent.occurred_at)))


async def test_an_admin_registers_an_app_and_sees_its_secret_once(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin, csrf = await signed_in(client, make_actor)
    index = await client.get("/settings", headers=HTML)
    assert 'href="/settings/oauth_apps"' in index.text
    form = await client.get("/settings/oauth_apps/new", headers=HTML)
    assert form.status_code == 200 and 'name="redirect_uris"' in form.text
    assert '<label for="redirect_uris">' in form.text and 'value="incidents.write"' in form.text

    app = await _register(client, db, csrf, redirect_uris=f"{REDIRECT_URI}\r\n"
                          "https://app.example.com/other\r\n")
    assert app.client_secret and app.redirect_uris == [REDIRECT_URI,
                                                       "https://app.example.com/other"]

    listed = await client.get("/settings/oauth_apps", headers=HTML)
    assert listed.status_code == 200
    assert "VectorShift" in listed.text and app.client_id in listed.text
    assert "https://app.example.com/other" in listed.text and "incidents.read, users.read" \
        in listed.text and "Enabled" in listed.text
    assert app.client_secret not in listed.text
    assert app.client_secret not in (await client.get("/settings", headers=HTML)).text
    async with db.session() as session:
        details = [event.details for event in await session.scalars(select(AuditEvent))]
    assert app.client_secret not in repr(details)
    assert await _actions(db, app.id) == ["oauth_app.created"]

    # The secret shown is the app's: a code exchanged with it gives a working token.
    code = (await Person(client, admin).authorize(app, scope="users.read"))["code"][0]
    token = await exchange(client, app, code)
    assert token.status_code == 200, token.text
    assert (await client.get("/api/users/me", headers=bearer(token.json()["access_token"]))
            ).status_code == 200


async def test_a_bad_registration_is_refused_beside_its_field(
    client: httpx.AsyncClient, make_actor
) -> None:
    _, csrf = await signed_in(client, make_actor)
    plain_http = "http://app.example.com/callback"
    refused = await client.post("/settings/oauth_apps/new",
                                data=_form(csrf, redirect_uris=plain_http, name="Kept name"))
    assert refused.status_code == 400
    assert "http is allowed for loopback addresses only" in (
        error_of(refused.text, "redirect_uris") or "")
    assert 'value="Kept name"' in refused.text and f">{plain_http}</textarea>" in refused.text
    assert re.search(r'value="users.read"\s+checked', refused.text)
    assert not re.search(r'value="incidents.write"\s+checked', refused.text)

    fragment = await client.post("/settings/oauth_apps/new",
                                 data=_form(csrf, redirect_uris=f"{REDIRECT_URI}#x"))
    assert "must not have a fragment" in (error_of(fragment.text, "redirect_uris") or "")
    none = await client.post("/settings/oauth_apps/new", data=_form(csrf, redirect_uris=" \n"))
    assert "redirect URI is required" in (error_of(none.text, "redirect_uris") or "")
    long_name = await client.post("/settings/oauth_apps/new", data=_form(csrf, name="x" * 201))
    message = error_of(long_name.text, "name") or ""
    assert long_name.status_code == 400 and "200 characters" in message
    assert not message.startswith("Value error")
    blank = await client.post("/settings/oauth_apps/new", data=_form(csrf, name="  "))
    assert "1 to 200 characters" in (error_of(blank.text, "name") or "")
    forged = await client.post("/settings/oauth_apps/new", data=_form(csrf, scopes=["root"]))
    assert "Unknown scope" in (error_of(forged.text, "scopes") or "")
    assert "VectorShift" not in (await client.get("/settings/oauth_apps", headers=HTML)).text


async def test_admins_disable_enable_and_delete_and_responders_may_not(
    client: httpx.AsyncClient, make_actor, app, db: Database
) -> None:
    _, csrf = await signed_in(client, make_actor)
    registered = await _register(client, db, csrf)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=ISSUER) as other:
        _, other_csrf = await signed_in(other, make_actor, "responder")
        index = await other.get("/settings", headers=HTML)
        assert "/settings/oauth_apps" not in index.text
        assert 'href="/settings/authorized_apps"' in index.text
        for path in ("/settings/oauth_apps", "/settings/oauth_apps/new",
                     f"/settings/oauth_apps/{registered.id}/delete"):
            page = await other.get(path, headers=HTML)
            assert page.status_code == 403 and "<h1>" in page.text, path
        for action in ("new", f"{registered.id}/disable", f"{registered.id}/enable",
                       f"{registered.id}/delete"):
            refused = await other.post(f"/settings/oauth_apps/{action}", headers=HTML,
                                       data=_form(other_csrf))
            assert refused.status_code == 403, action
    assert await _actions(db, registered.id) == ["oauth_app.created"]

    disabled = await client.post(f"/settings/oauth_apps/{registered.id}/disable",
                                 data={"csrf_token": csrf})
    assert disabled.status_code == 303
    assert disabled.headers["location"] == "/settings/oauth_apps"
    listed = await client.get("/settings/oauth_apps", headers=HTML)
    assert "VectorShift is disabled" in listed.text and "Disabled" in listed.text
    assert f'action="/settings/oauth_apps/{registered.id}/enable"' in listed.text

    enabled = await client.post(f"/settings/oauth_apps/{registered.id}/enable",
                                data={"csrf_token": csrf})
    assert enabled.status_code == 303
    listed = await client.get("/settings/oauth_apps", headers=HTML)
    assert "Enabled" in listed.text
    assert f'action="/settings/oauth_apps/{registered.id}/disable"' in listed.text

    confirm = await client.get(f"/settings/oauth_apps/{registered.id}/delete", headers=HTML)
    assert confirm.status_code == 200 and "This action cannot be undone" in confirm.text
    forged = await client.post(f"/settings/oauth_apps/{registered.id}/delete", headers=HTML,
                               data={"csrf_token": "forged"})
    assert forged.status_code == 403
    deleted = await client.post(f"/settings/oauth_apps/{registered.id}/delete",
                                data={"csrf_token": csrf})
    assert deleted.status_code == 303
    listed = await client.get("/settings/oauth_apps", headers=HTML)
    assert "VectorShift is deleted" in listed.text and registered.client_id not in listed.text
    assert await _actions(db, registered.id) == [
        "oauth_app.created", "oauth_app.disabled", "oauth_app.enabled", "oauth_app.deleted"]
    gone = await client.get(f"/settings/oauth_apps/{registered.id}/delete", headers=HTML)
    assert gone.status_code == 404


async def test_a_person_sees_an_app_they_authorized_and_revokes_it(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    async with db.transaction() as session:
        created, secret = await oauth.create_app(
            session=session, actor=admin.user,
            data=oauth.NewApp(name="VectorShift", redirect_uris=[REDIRECT_URI]))
    registered = App(created.id, created.client_id, secret, [REDIRECT_URI])

    person, csrf = await signed_in(client, make_actor, "responder")
    empty = await client.get("/settings/authorized_apps", headers=HTML)
    assert empty.status_code == 200 and "You have not authorized any apps" in empty.text
    code = (await Person(client, person).authorize(registered, scope="read"))[
        "code"][0]
    token = (await exchange(client, registered, code)).json()["access_token"]
    assert (await client.get("/api/users/me", headers=bearer(token))).status_code == 200

    page = await client.get("/settings/authorized_apps", headers=HTML)
    assert "VectorShift" in page.text and "See everything you can see" in page.text
    action = f'action="/settings/authorized_apps/{registered.id}/revoke"'
    assert action in page.text

    revoked = await client.post(f"/settings/authorized_apps/{registered.id}/revoke",
                                data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/settings/authorized_apps"
    page = await client.get("/settings/authorized_apps", headers=HTML)
    assert "VectorShift no longer has access" in page.text and action not in page.text
    assert (await client.get("/api/users/me", headers=bearer(token))).status_code == 401
    again = await client.post(f"/settings/authorized_apps/{registered.id}/revoke",
                              headers=HTML, data={"csrf_token": csrf})
    assert again.status_code == 404
