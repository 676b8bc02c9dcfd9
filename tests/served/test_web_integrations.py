"""Workflow Integrations in Chromium against `fireline serve`, as the product text walks through
it: Integrations → Workflow Integrations shows the 19 tools; an Elasticsearch connection with a
wrong API key is refused beside the API key field and nothing is stored; with the right key it is
added, Healthy in the Status column; Verify now adds a health check; Edit from the tool's table
keeps the stored key; Delete asks for confirmation and removes it. Every page visited passes
`web.check_page` (axe, console, CSP, screenshot) and the SEC-1 scan, with the API keys typed
remembered as secrets."""

from __future__ import annotations

import secrets

from playwright.sync_api import Locator, Page, expect

from tests.integrations.fakes import elasticsearch as fake
from tests.served import web
from tests.served.cases.elasticsearch import CASE as ELASTICSEARCH
from tests.served.cases.web_api import CASE as WEB_API
from tests.served.harness import Served

TOOL_COUNT = 19


def _open_menu(page: Page) -> None:
    """Integrations → Workflow Integrations, as the product text says."""
    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_text("Integrations", exact=True).click()
    menu.get_by_role("link", name="Workflow Integrations").click()


def _open_tool(page: Page, title: str) -> None:
    _open_menu(page)
    page.get_by_role("link", name=f"{title} connections").click()


def _fill_elasticsearch(page: Page | Locator, name: str, api_key: str) -> None:
    page.get_by_label("Connection Name").fill(name)
    page.get_by_label("Elasticsearch URL").fill(ELASTICSEARCH.config["url"])
    page.get_by_label("API Key").fill(api_key)


def test_an_elasticsearch_connection_is_refused_added_verified_edited_and_deleted(
    signed_in_page: Page, served: Served
) -> None:
    page = signed_in_page
    _open_menu(page)
    expect(page.get_by_role("heading", name="Workflow Integrations", level=1)).to_be_visible()
    expect(page.get_by_role("list", name="Tools").get_by_role("listitem")).to_have_count(
        TOOL_COUNT)
    web.check_page(page, "integrations-catalog")

    name = f"Production logs {secrets.token_hex(3)}"
    wrong = web.remember_secret(fake.api_key_pair("served", f"wrong-{secrets.token_hex(6)}"),
                                "a wrong Elasticsearch API key")
    page.get_by_role("link", name="Add Connection to Elasticsearch").click()
    expect(page.get_by_role("heading", name="Add Elasticsearch Connection")).to_be_visible()
    web.check_page(page, "integrations-new-elasticsearch")
    _fill_elasticsearch(page, name, wrong)
    page.get_by_role("button", name="Add", exact=True).click()
    error = page.locator("#field-secrets-api_key-error")
    expect(error).to_contain_text("could not be verified")
    expect(page.get_by_label("API Key")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("API Key")).to_have_value("")  # a secret is never sent back
    expect(page.get_by_label("Connection Name")).to_have_value(name)  # the rest is kept
    action = f"{served.base_url}/integrations/workflow-integrations/elasticsearch/connections"
    web.check_page(page, "integrations-new-elasticsearch-refused", refused=(400, action))
    assert name not in [c["name"] for c in served.connections("elasticsearch")]

    right = web.remember_secret(ELASTICSEARCH.secrets["api_key"], "the Elasticsearch API key")
    page.get_by_label("API Key").fill(right)
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.locator("#status")).to_contain_text("Healthy")
    expect(page.get_by_role("status")).to_contain_text(f"“{name}” added")
    web.check_page(page, "integrations-connection")
    checks = page.locator("table tbody tr")
    expect(checks).to_have_count(1)

    page.get_by_role("button", name="Verify now").click()
    expect(checks).to_have_count(2)
    expect(checks.first).to_contain_text("Verify now")
    expect(checks.first).to_contain_text("Healthy")

    _open_tool(page, "Elasticsearch")
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("Healthy")
    expect(row).to_contain_text("All admins and global managers")
    web.check_page(page, "integrations-tool-elasticsearch")

    # Edit from the row: the secret's field is empty (stored, never sent back); saving without
    # retyping it keeps it, and the connection is verified again under its new name.
    row.get_by_role("link", name=f"Edit {name}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Edit Elasticsearch Connection")).to_be_visible()
    expect(dialog.get_by_label("API Key")).to_have_value("")
    web.check_page(page, "integrations-edit-elasticsearch")
    name = f"{name} renamed"
    dialog.get_by_label("Connection Name").fill(name)
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"“{name}” saved: Healthy")
    assert name in [c["name"] for c in served.connections("elasticsearch")]

    _open_tool(page, "Elasticsearch")
    row = page.get_by_role("row").filter(has_text=name)
    row.get_by_role("link", name=f"Delete {name}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This action cannot be undone")
    web.check_page(page, "integrations-delete-elasticsearch")
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Connection “{name}” deleted")
    expect(page.get_by_role("row").filter(has_text=name)).to_have_count(0)
    web.check_page(page, "integrations-deleted-elasticsearch")
    assert name not in [c["name"] for c in served.connections("elasticsearch")]


def test_a_connection_restricted_to_one_team_is_hidden_from_another_teams_manager(
    signed_in_page: Page, served: Served
) -> None:
    suffix = secrets.token_hex(3)
    managers = {}
    for team in (f"Payments {suffix}", f"Search {suffix}"):
        _, email, password = served.add_team_manager(team)
        managers[team] = (email, web.remember_secret(password, f"{team}'s manager's password"))
    payments, search = managers

    page = signed_in_page
    _open_tool(page, "Elasticsearch")
    page.get_by_role("link", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    name = f"Payments logs {suffix}"
    _fill_elasticsearch(dialog, name,
                        web.remember_secret(ELASTICSEARCH.secrets["api_key"]))
    expect(dialog.get_by_label("Select teams")).to_be_hidden()  # only for the second choice
    dialog.get_by_label("All admins, global managers and team managers on specific teams").check()
    dialog.get_by_label("Select teams").select_option(label=payments)
    web.check_page(page, "integrations-new-restricted")
    dialog.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    url = page.url
    _open_tool(page, "Elasticsearch")
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text(f"Admins, global managers and managers of {payments}")

    for team, sees in ((payments, True), (search, False)):
        context = web.CHROMIUM.new_context(served.base_url)
        try:
            tab = context.new_page()
            tab.goto("/")
            web.sign_in(tab, *managers[team])
            _open_tool(tab, "Elasticsearch")
            rows = tab.get_by_role("row").filter(has_text=name)
            expect(rows).to_have_count(1 if sees else 0)
            web.check_page(tab, f"integrations-tool-as-manager-{'in' if sees else 'out'}")
            tab.goto(url)  # its own page, not just its row
            if sees:
                expect(tab.get_by_role("heading", name=name, level=1)).to_be_visible()
            else:
                expect(tab.get_by_role("heading", name="Page not found")).to_be_visible()
                web.check_page(tab, "integrations-connection-hidden", status=404)
        finally:
            context.close()


def test_a_web_api_connection_with_its_headers_hostnames_and_health_check_method(
    signed_in_page: Page, served: Served
) -> None:
    page = signed_in_page
    _open_tool(page, "Web API")
    page.get_by_role("link", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Add Web API Connection")).to_be_visible()
    name = f"Status API {secrets.token_hex(3)}"
    headers = web.remember_secret(WEB_API.secrets["authentication_headers"],
                                  "the Web API's authentication headers")
    dialog.get_by_label("Connection Name").fill(name)
    dialog.get_by_label("Allowed Hostnames").fill(WEB_API.config["allowed_hostnames"])
    dialog.get_by_label("Health Check URL").fill("https://elsewhere.example.net/health")
    dialog.get_by_label("Health Check Method").select_option("HEAD")
    dialog.get_by_label("Authentication Headers").fill(headers)
    web.check_page(page, "integrations-new-web-api")
    dialog.get_by_role("button", name="Add", exact=True).click()

    # The credentials go only to the allowed hosts, and the health check carries them.
    expect(dialog.locator("#field-configuration-health_check_url-error")).to_contain_text(
        "is not in this connection's allowed hostnames")
    expect(dialog.get_by_label("Authentication Headers")).to_have_value("")
    expect(dialog.get_by_label("Health Check Method")).to_have_value("HEAD")
    action = f"{served.base_url}/integrations/workflow-integrations/web_api/connections"
    web.check_page(page, "integrations-new-web-api-refused", refused=(400, action))

    dialog.get_by_label("Health Check URL").fill(WEB_API.config["health_check_url"])
    dialog.get_by_label("Authentication Headers").fill(headers)
    dialog.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    expect(page.locator("#status")).to_contain_text("Healthy")
    web.check_page(page, "integrations-connection-web-api")
    saved = next(c for c in served.connections("web_api") if c["name"] == name)
    assert saved["configuration"]["health_check_method"] == "HEAD"
    assert saved["configuration"]["allowed_hostnames"] == "api.example.com"
