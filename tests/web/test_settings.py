"""The settings pages in-process: users (add with a password shown once, change role,
disable and enable), teams and their members, API keys (shown once, last use, revoke) and your
own profile and password — every change audited, every refusal a 403 page or a message beside
its field. The browser layer (tests/served) drives the same pages in Chromium."""

from __future__ import annotations

import asyncio
import re

import httpx
from sqlalchemy import select

from fireline.accounts.models import ApiKey
from fireline.core.audit import AuditEvent
from fireline.core.db import Database
from tests.web.helpers import HTML, PASSWORD, sign_in


async def _admin(client: httpx.AsyncClient, make_actor, role: str = "admin") -> str:  # type: ignore[no-untyped-def]
    actor = await make_actor(role, password=PASSWORD)
    return await sign_in(client, actor.user.email)


def _error_of(page: str, field: str) -> str | None:
    found = re.search(rf'id="{re.escape(field)}-error">([^<]*)<', page)
    return found[1] if found else None


async def _actions(db: Database, target_id: str) -> list[str]:
    async with db.transaction() as session:
        return list(await session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == target_id)
            .order_by(AuditEvent.occurred_at)))


async def _add_user(client: httpx.AsyncClient, csrf: str, email: str, role: str = "responder"
                    ) -> tuple[str, str]:
    """Adds a user through the form; returns their id and the initial password shown once."""
    added = await client.post("/settings/users/new", data={
        "csrf_token": csrf, "name": "Dana Scully", "email": email, "role": role})
    assert added.status_code == 200, added.text
    password = re.search(r'<code id="initial-password"[^>]*>([^<]+)</code>', added.text)
    user_id = re.search(r'href="/users/([^"]+)"', added.text.split("can now sign in")[1])
    assert password and user_id, added.text
    return user_id[1], password[1]


async def test_an_admin_adds_a_user_whose_password_shows_once_and_works(
    client: httpx.AsyncClient, make_actor, app, db: Database
) -> None:
    csrf = await _admin(client, make_actor)
    user_id, password = await _add_user(client, csrf, "dana@example.com")

    listed = await client.get("/settings/users", headers=HTML)
    assert "dana@example.com" in listed.text and password not in listed.text
    page = await client.get(f"/users/{user_id}", headers=HTML)
    assert page.status_code == 200 and "Responder" in page.text and password not in page.text
    assert await _actions(db, user_id) == ["user.created"]

    again = await client.post("/settings/users/new", data={
        "csrf_token": csrf, "name": "Other", "email": "DANA@example.com", "role": "responder"})
    assert again.status_code == 400
    assert "already exists" in (_error_of(again.text, "email") or "")
    assert 'value="Other"' in again.text  # what was typed stays

    owner = await client.post("/settings/users/new", data={
        "csrf_token": csrf, "name": "Two", "email": "two@example.com", "role": "owner"})
    assert owner.status_code == 400 and "only one Account Owner" in (
        _error_of(owner.text, "role") or "")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=str(client.base_url)) as dana:
        await sign_in(dana, "dana@example.com", password)
        assert "Dana Scully" in (await dana.get("/", headers=HTML)).text


async def test_people_other_than_admins_see_users_but_change_nothing(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    other = await make_actor("responder")
    csrf = await _admin(client, make_actor, "manager")
    listed = await client.get("/settings/users", headers=HTML)
    assert listed.status_code == 200 and "Add user" not in listed.text
    assert (await client.get("/settings/users/new", headers=HTML)).status_code == 403
    refused = await client.post(f"/users/{other.user.id}/role",
                                data={"csrf_token": csrf, "role": "admin"}, headers=HTML)
    assert refused.status_code == 403 and "<h1>" in refused.text
    assert await _actions(db, other.user.id) == ["user.role_changed"]  # the refusal (AUD-2)
    api_keys = await client.get("/settings/api_keys", headers=HTML)
    assert api_keys.status_code == 403


async def test_roles_change_but_never_your_own_or_to_owner(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    csrf = await _admin(client, make_actor)
    user_id, _ = await _add_user(client, csrf, "mulder@example.com")
    changed = await client.post(f"/users/{user_id}/role",
                                data={"csrf_token": csrf, "role": "manager"})
    assert changed.status_code == 303 and changed.headers["location"] == f"/users/{user_id}"
    page = await client.get(f"/users/{user_id}", headers=HTML)
    assert "is now Global Manager" in page.text  # the flash

    me = (await client.get("/api/users/me")).json()["user"]["id"]
    own = await client.get(f"/users/{me}", headers=HTML)
    assert 'action="/users/' + me + '/role"' not in own.text
    refused = await client.post(f"/users/{me}/role",
                                data={"csrf_token": csrf, "role": "manager"})
    assert refused.status_code == 400 and "You cannot change your own role" in refused.text
    assert "user.role_changed" in await _actions(db, user_id)


async def test_disabling_a_user_ends_their_sessions_and_keys_and_enabling_restoressign_in(
    client: httpx.AsyncClient, make_actor, app, db: Database
) -> None:
    csrf = await _admin(client, make_actor)
    target = await make_actor("responder", password=PASSWORD)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=str(client.base_url)) as victim:
        await sign_in(victim, target.user.email)
        assert (await client.get(f"/users/{target.user.id}/disable", headers=HTML)).status_code \
            == 200
        disabled = await client.post(f"/users/{target.user.id}/disable",
                                     data={"csrf_token": csrf})
        assert disabled.status_code == 303
        assert (await victim.get("/api/users/me")).status_code == 401
        assert (await client.get("/api/users/me", headers=target.headers)).status_code == 401
        refused = await victim.post("/login", data={"email": target.user.email,
                                                    "password": PASSWORD})
        assert refused.status_code == 401
        page = await client.get(f"/users/{target.user.id}", headers=HTML)
        assert "Disabled since" in page.text

        enabled = await client.post(f"/users/{target.user.id}/enable", data={"csrf_token": csrf})
        assert enabled.status_code == 303
        await sign_in(victim, target.user.email)
        # The old key stays revoked.
        assert (await client.get("/api/users/me", headers=target.headers)).status_code == 401
    assert await _actions(db, target.user.id) == ["user.disabled", "user.enabled"]

    me = (await client.get("/api/users/me")).json()["user"]["id"]
    own = await client.post(f"/users/{me}/disable", data={"csrf_token": csrf})
    assert own.status_code == 400


async def test_teams_and_members_with_team_roles(
    client: httpx.AsyncClient, make_actor, app, db: Database
) -> None:
    csrf = await _admin(client, make_actor)
    member = await make_actor("responder", password=PASSWORD)
    made = await client.post("/settings/teams", data={
        "csrf_token": csrf, "name": "Payments", "description": "The checkout path"})
    assert made.status_code == 303
    team_url = made.headers["location"]
    team_id = team_url.rsplit("/", 1)[1]
    twice = await client.post("/settings/teams", data={"csrf_token": csrf, "name": "Payments"})
    assert twice.status_code == 400 and "already exists" in (
        _error_of(twice.text, "team-name") or "")

    added = await client.post(f"{team_url}/members", data={
        "csrf_token": csrf, "user_id": member.user.id, "role": "manager"})
    assert added.status_code == 303
    page = await client.get(team_url, headers=HTML)
    assert member.user.email in page.text and "added as Manager" in page.text
    duplicate = await client.post(f"{team_url}/members", data={
        "csrf_token": csrf, "user_id": member.user.id, "role": "observer"})
    assert duplicate.status_code == 400

    # The team's own manager manages its members; a responder of no team does not.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=str(client.base_url)) as manager:
        manager_csrf = await sign_in(manager, member.user.email)
        outsider = await make_actor("responder")
        joined = await manager.post(f"{team_url}/members", data={
            "csrf_token": manager_csrf, "user_id": outsider.user.id, "role": "observer"})
        assert joined.status_code == 303
        changed = await manager.post(f"{team_url}/members/{outsider.user.id}/role",
                                     data={"csrf_token": manager_csrf, "role": "responder"})
        assert changed.status_code == 303
        removed = await manager.post(f"{team_url}/members/{outsider.user.id}/remove",
                                     data={"csrf_token": manager_csrf})
        assert removed.status_code == 303
        made_by_manager = await manager.post("/settings/teams", data={
            "csrf_token": manager_csrf, "name": "Not allowed"})
        assert made_by_manager.status_code == 403
    assert await _actions(db, team_id) == [
        "team.created", "team.member_added", "team.member_added", "team.member_role_changed",
        "team.member_removed"]
    listed = await client.get("/settings/teams", headers=HTML)
    assert "Payments" in listed.text and "The checkout path" in listed.text


async def test_api_keys_are_shown_once_record_their_last_use_and_revoke(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    csrf = await _admin(client, make_actor)
    empty = await client.post("/settings/api_keys", data={"csrf_token": csrf, "name": " "})
    assert empty.status_code == 400 and _error_of(empty.text, "key-name")

    made = await client.post("/settings/api_keys", data={
        "csrf_token": csrf, "name": "Terraform", "read_only": "1"})
    assert made.status_code == 200
    secret = re.search(r'<code id="new-api-key"[^>]*>([^<]+)</code>', made.text)
    assert secret
    key = secret[1]
    headers = {"Authorization": f"Token token={key}"}
    listed = await client.get("/settings/api_keys", headers=HTML)
    assert "Terraform" in listed.text and "Read-only" in listed.text and key not in listed.text

    assert (await client.get("/api/users/me", headers=headers)).status_code == 200
    async with db.transaction() as session:
        stored = await session.scalar(select(ApiKey).where(ApiKey.name == "Terraform"))
    assert stored is not None and stored.read_only
    for _ in range(50):  # the "last used" write runs after the request, on its own
        async with db.transaction() as session:
            used = await session.scalar(select(ApiKey.last_used_at)
                                        .where(ApiKey.id == stored.id))
        if used is not None:
            break
        await asyncio.sleep(0.02)
    assert used is not None

    confirm = await client.get(f"/settings/api_keys/{stored.id}/revoke", headers=HTML)
    assert "This action cannot be undone" in confirm.text
    revoked = await client.post(f"/settings/api_keys/{stored.id}/revoke",
                                data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert (await client.get("/api/users/me", headers=headers)).status_code == 401
    assert await _actions(db, stored.id) == ["api_key.created", "api_key.revoked"]
    async with db.transaction() as session:
        details = list(await session.scalars(select(AuditEvent.details)
                                             .where(AuditEvent.target_id == stored.id)))
    assert key not in repr(details)


async def test_your_profile_and_password(
    client: httpx.AsyncClient, make_actor, app
) -> None:
    actor = await make_actor("responder", password=PASSWORD)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=str(client.base_url)) as other_tab:
        await sign_in(other_tab, actor.user.email)
        csrf = await sign_in(client, actor.user.email)

        bad_zone = await client.post("/settings/profile", data={
            "csrf_token": csrf, "name": "Fox", "time_zone": "Mars/Olympus"})
        assert bad_zone.status_code == 400 and "Unknown time zone" in (
            _error_of(bad_zone.text, "time_zone") or "")
        saved = await client.post("/settings/profile", data={
            "csrf_token": csrf, "name": "Fox Mulder", "time_zone": "Europe/Berlin"})
        assert saved.status_code == 303
        me = (await client.get("/api/users/me")).json()["user"]
        assert me["name"] == "Fox Mulder" and me["time_zone"] == "Europe/Berlin"

        wrong = await client.post("/settings/profile/password", data={
            "csrf_token": csrf, "current_password": "not it at all",
            "new_password": "a new long password", "confirm_password": "a new long password"})
        assert wrong.status_code == 400 and _error_of(wrong.text, "current_password")
        assert "a new long password" not in wrong.text
        mismatch = await client.post("/settings/profile/password", data={
            "csrf_token": csrf, "current_password": PASSWORD,
            "new_password": "a new long password", "confirm_password": "another one here"})
        assert mismatch.status_code == 400 and _error_of(mismatch.text, "confirm_password")

        changed = await client.post("/settings/profile/password", data={
            "csrf_token": csrf, "current_password": PASSWORD,
            "new_password": "a new long password", "confirm_password": "a new long password"})
        assert changed.status_code == 303
        assert (await client.get("/api/users/me")).status_code == 200  # this session stays
        assert (await other_tab.get("/api/users/me")).status_code == 401  # the other ends
        await sign_in(other_tab, actor.user.email, "a new long password")
