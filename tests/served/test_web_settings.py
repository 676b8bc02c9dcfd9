"""Settings in Chromium against `fireline serve`: the owner adds a user (the initial password
shown once), puts them in a team, the user signs in with it and changes their password; an API
key is created (shown once), works, and is revoked; a disabled user is signed out; an OAuth app
is registered (its secret shown once), disabled and deleted. Every page visited passes
`web.check_page` (axe, console, CSP, screenshot) and the SEC-1 scan."""

from __future__ import annotations

import re
import secrets

import httpx
from playwright.sync_api import Page, expect

from tests.served import web
from tests.served.harness import Served


def _open_settings(page: Page, section: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("link", name=section, exact=True).click()


def test_the_owner_adds_a_user_to_a_team_and_the_user_signs_in_and_changes_their_password(
    signed_in_page: Page, served: Served
) -> None:
    page = signed_in_page
    suffix = secrets.token_hex(3)
    email = f"dana-{suffix}@example.com"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    web.check_page(page, "settings-index")
    page.get_by_role("link", name="Users", exact=True).click()
    web.check_page(page, "settings-users")
    page.get_by_role("link", name="Add user").click()
    web.check_page(page, "settings-user-new")
    page.get_by_label("Name").fill("Dana Scully")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role").select_option(label="Responder")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("heading", name="Dana Scully can now sign in")).to_be_visible()
    password = page.locator("#initial-password").inner_text().strip()
    web.check_page(page, "settings-user-created", shows_once=[password])

    _open_settings(page, "Teams")
    team = f"Payments {suffix}"
    page.get_by_label("Name").fill(team)
    page.get_by_label("Description").fill("The checkout path")
    page.get_by_role("button", name="Add team").click()
    expect(page.get_by_role("heading", name=team)).to_be_visible()
    page.get_by_label("User", exact=True).select_option(label=f"Dana Scully ({email})")
    page.get_by_label("Team role").select_option(label="Manager")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_contain_text("Dana Scully added as Manager")
    web.check_page(page, "settings-team")

    dana = web.CHROMIUM.new_context(served.base_url)  # her own profile, watched like any
    try:
        tab = dana.new_page()
        tab.goto("/")
        web.sign_in(tab, email, password)
        expect(tab.get_by_role("link", name="Dana Scully")).to_be_visible()
        tab.get_by_role("link", name="Dana Scully").click()  # the account menu: your profile
        web.check_page(tab, "settings-profile")
        new_password = web.remember_secret(f"a new password {secrets.token_hex(6)}")
        tab.get_by_label("Current password").fill("not the password")
        tab.get_by_label("New password", exact=True).fill(new_password)
        tab.get_by_label("New password again").fill(new_password)
        tab.get_by_role("button", name="Change password").click()
        expect(tab.locator("#current_password-error")).to_contain_text("incorrect")
        web.check_page(tab, "settings-profile-error", status=400)
        tab.get_by_label("Current password").fill(password)
        tab.get_by_label("New password", exact=True).fill(new_password)
        tab.get_by_label("New password again").fill(new_password)
        tab.get_by_role("button", name="Change password").click()
        expect(tab.get_by_role("status")).to_contain_text("Your password is changed")
    finally:
        dana.close()

    # The owner disables Dana: her session ends.
    _open_settings(page, "Users")
    page.get_by_role("link", name="Dana Scully").click()
    page.get_by_role("link", name="Disable Dana Scully…").click()
    web.check_page(page, "settings-user-disable")
    page.get_by_role("button", name="Disable Dana Scully").click()
    expect(page.get_by_role("status")).to_contain_text("Dana Scully is disabled")
    web.check_page(page, "settings-user")
    refused = httpx.post(f"{served.base_url}/login",
                         data={"email": email, "password": new_password})
    assert refused.status_code == 401


def test_an_api_key_is_shown_once_works_and_is_revoked(signed_in_page: Page,
                                                      served: Served) -> None:
    page = signed_in_page
    _open_settings(page, "API keys")
    web.check_page(page, "settings-api-keys")
    name = f"Terraform {secrets.token_hex(3)}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Read-only").check()
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-api-key").inner_text().strip()
    web.check_page(page, "settings-api-key-created", shows_once=[key])

    headers = {"Authorization": f"Token token={key}"}
    assert httpx.get(f"{served.base_url}/api/users/me", headers=headers).status_code == 200

    page.get_by_role("link", name="Back to API keys").click()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("Read-only")
    row.get_by_role("link", name=f"Revoke {name}").click()
    expect(page.get_by_text("This action cannot be undone")).to_be_visible()
    web.check_page(page, "settings-api-key-revoke")
    page.get_by_role("button", name=f"Revoke {name}").click()
    expect(page.get_by_role("status")).to_contain_text("is revoked")
    assert httpx.get(f"{served.base_url}/api/users/me", headers=headers).status_code == 401


def test_an_oauth_app_is_registered_with_its_secret_shown_once_then_disabled_and_deleted(
    signed_in_page: Page, served: Served
) -> None:
    page = signed_in_page
    _open_settings(page, "OAuth apps")
    web.check_page(page, "settings-oauth-apps")
    page.get_by_role("link", name="Register app").click()
    web.check_page(page, "settings-oauth-app-new")
    name = f"VectorShift {secrets.token_hex(3)}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Redirect URIs").fill("http://example.com/callback")  # not https
    page.get_by_role("button", name="Register app").click()
    expect(page.locator("#redirect_uris-error")).to_be_visible()
    web.check_page(page, "settings-oauth-app-refused", status=400)
    page.get_by_label("Redirect URIs").fill("https://app.example.com/oauth/callback")
    page.get_by_role("button", name="Register app").click()
    secret = page.locator("#client-secret").inner_text().strip()
    web.check_page(page, "settings-oauth-app-created", shows_once=[secret])

    page.get_by_role("link", name="Back to OAuth apps").click()
    row = page.get_by_role("row").filter(has_text=name)
    row.get_by_role("button", name=f"Disable {name}").click()
    expect(page.get_by_role("status")).to_contain_text(f"{name} is disabled")
    page.get_by_role("row").filter(has_text=name).get_by_role(
        "link", name=f"Delete {name}").click()
    expect(page.get_by_text("This action cannot be undone")).to_be_visible()
    web.check_page(page, "settings-oauth-app-delete")
    page.get_by_role("button", name=re.compile("^Delete")).click()
    expect(page.get_by_role("status")).to_contain_text(f"{name} is deleted")
    expect(page.get_by_role("row").filter(has_text=name)).to_have_count(0)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Authorized apps", exact=True).click()
    web.check_page(page, "settings-authorized-apps")
