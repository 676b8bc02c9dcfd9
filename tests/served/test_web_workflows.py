"""Incident Workflows in Chromium against `fireline serve` (issue 13): a workflow "search the
logs, then add a note" is built in the editor on an Elasticsearch connection (the fake behind
the tool's real host name), started from an incident's page, and watched on its run page until
it succeeds, the note then on the incident's timeline; a step the tool refuses shows its
scrubbed error on the run page; a team manager's picker leaves out a connection of another
team and a definition naming it is refused on the step; the YAML view round-trips. Every page
visited passes `web.check_page` (axe, console, CSP, screenshot) and the SEC-1 scan, with the
connection's API key remembered as a secret."""

from __future__ import annotations

import re
import secrets
from typing import Any

from playwright.sync_api import Page, expect

from tests.served import web
from tests.served.cases.elasticsearch import CASE as ELASTICSEARCH
from tests.served.harness import Served


def _es_connection(served: Served, name: str, **extra: Any) -> str:
    web.remember_secret(ELASTICSEARCH.secrets["api_key"], "the Elasticsearch API key")
    made = served.create_connection("elasticsearch", {
        "name": name, "configuration": ELASTICSEARCH.config,
        "secrets": ELASTICSEARCH.secrets, **extra})
    assert made.status_code == 201, made.text
    return str(made.json()["connection"]["id"])


def _open_workflows(page: Page) -> None:
    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_text("Automation", exact=True).click()
    menu.get_by_role("link", name="Incident Workflows").click()


def _step(page: Page, number: int) -> Any:
    return page.get_by_role("group", name=re.compile(rf"^Step {number}\b"))


def _run_from_incident(page: Page, incident_id: str, workflow: str) -> None:
    page.goto(f"/incidents/{incident_id}")
    page.get_by_role("link", name="Run a workflow").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=re.compile("^Run a workflow on"))).to_be_visible()
    dialog.get_by_role("button", name=f"Run {workflow}").click()


def test_a_workflow_built_in_the_editor_runs_from_an_incident_and_notes_what_it_found(
    signed_in_page: Page, served: Served
) -> None:
    suffix = secrets.token_hex(3)
    connection = f"Checkout logs {suffix}"
    _es_connection(served, connection)
    incident = served.incident(f"Checkout errors {suffix}")

    page = signed_in_page
    _open_workflows(page)
    page.get_by_role("link", name="New workflow").click()
    web.check_page(page, "workflows-new")
    name = f"Search then note {suffix}"
    page.get_by_label("Name", exact=True).fill(name)
    first = _step(page, 1)
    first.get_by_label("Step ID", exact=True).fill("search")
    first.get_by_label("Action", exact=True).select_option("elasticsearch.search_logs")
    first = _step(page, 1)  # the form comes back with the action's inputs
    expect(first.get_by_label("Elasticsearch connection")).to_be_visible()
    first.get_by_label("Elasticsearch connection").select_option(label=connection)
    first.get_by_label("Index Pattern").fill("logs-*")
    first.get_by_label("Query Type").select_option("kql")
    first.get_by_label("Query", exact=True).fill("level:error")
    page.get_by_role("button", name="Add step").click()
    second = _step(page, 2)
    second.get_by_label("Step ID", exact=True).fill("note")
    second.get_by_label("Action", exact=True).select_option("fireline.add_note")
    second = _step(page, 2)
    second.get_by_label("Content").fill("{{ steps.search.output.total }} errors in the logs")
    web.check_page(page, "workflows-editor")
    page.get_by_role("button", name="Save workflow").click()
    expect(page.get_by_role("status")).to_contain_text(f"Saved “{name}”")
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    web.check_page(page, "workflows-detail")

    _run_from_incident(page, incident["id"], name)
    expect(page.get_by_role("heading", name=f"Run of {name}")).to_be_visible()
    expect(page.locator("#run-status")).to_contain_text("succeeded")  # live, no reload
    expect(page.locator("#run-step-note")).to_contain_text("succeeded")
    page.get_by_text("Inputs and output of search").click()
    expect(page.locator("#run-step-data-search")).to_contain_text("payment failed")
    web.check_page(page, "workflows-run")

    page.get_by_role("link", name=re.compile(f"Checkout errors {suffix}")).click()
    expect(page.locator("#timeline")).to_contain_text("1 errors in the logs")
    web.check_page(page, "incident-after-workflow")


def test_a_step_the_tool_refuses_shows_its_scrubbed_error_on_the_run_page(
    signed_in_page: Page, served: Served
) -> None:
    suffix = secrets.token_hex(3)
    connection_id = _es_connection(served, f"Bad queries {suffix}")
    name = f"Broken EQL {suffix}"
    served.save_workflow({"name": name, "steps": [{
        "id": "search", "action": "elasticsearch.search_logs", "connection": connection_id,
        "retry": {"max_attempts": 1},
        "with": {"index_pattern": "logs-*", "query_type": "eql", "query": "not eql at all"}}]})
    incident = served.incident(f"Search fails {suffix}")

    page = signed_in_page
    _run_from_incident(page, incident["id"], name)
    expect(page.locator("#run-status")).to_contain_text("failed")
    expect(page.locator("#run-step-search")).to_contain_text("bad EQL")
    web.check_page(page, "workflows-run-failed")


def test_a_team_manager_picks_only_connections_they_may_select(
    signed_in_page: Page, served: Served
) -> None:
    suffix = secrets.token_hex(3)
    payments = served.add_team(f"Payments {suffix}")
    search, email, password = served.add_team_manager(f"Search {suffix}")
    web.remember_secret(password, "the manager's password")
    hidden = f"Payments logs {suffix}"
    hidden_id = _es_connection(served, hidden, teams=[{"id": payments, "type": "team_reference"}])
    theirs_too = f"Search logs {suffix}"  # scoped to their team: theirs to select
    _es_connection(served, theirs_too, teams=[{"id": search, "type": "team_reference"}])
    theirs = f"Search team's workflow {suffix}"
    workflow_id = served.save_workflow(
        {"name": theirs, "steps": [{"id": "n", "action": "fireline.noop"}]})
    named = served.save_workflow({"name": f"Payments search {suffix}", "steps": [{
        "id": "search", "action": "elasticsearch.search_logs", "connection": hidden_id,
        "with": {"index_pattern": "logs-*", "query": "level:error"}}]})

    context = web.CHROMIUM.new_context(served.base_url)
    try:
        tab = context.new_page()
        tab.goto("/")
        web.sign_in(tab, email, password)
        tab.goto("/incident_workflows/new")
        tab.get_by_label("Action", exact=True).select_option("elasticsearch.search_logs")
        picker = _step(tab, 1).get_by_label("Elasticsearch connection")
        expect(picker.locator("option", has_text=theirs_too)).to_have_count(1)
        expect(picker.locator("option", has_text=hidden)).to_have_count(0)
        web.check_page(tab, "workflows-editor-team-manager")

        # A workflow that names it, opened in the editor: kept as named, refused on the step.
        tab.goto(f"/incident_workflows/{named}/edit")
        picker = _step(tab, 1).get_by_label("Elasticsearch connection")
        expect(picker).to_have_value(hidden_id)
        expect(picker.locator("option", has_text=hidden)).to_have_count(0)
        tab.get_by_role("button", name="Save workflow").click()
        expect(tab.locator("#field-step-0-connection-error")).to_contain_text(
            f"no elasticsearch connection '{hidden_id}'")
        web.check_page(tab, "workflows-editor-refused", refused=(
            400, f"{served.base_url}/incident_workflows/{named}/edit"))

        # Naming it in the YAML view is refused too, the reason naming the step.
        tab.goto(f"/incident_workflows/{workflow_id}/yaml")
        tab.get_by_label("Definition").fill(
            f"name: {theirs}\ntrigger: {{type: manual}}\nsteps:\n"
            f"- id: n\n  action: elasticsearch.search_logs\n  connection: {hidden_id}\n"
            "  with: {index_pattern: logs-*, query: x}\n")
        tab.get_by_role("button", name="Save workflow").click()
        expect(tab.get_by_role("alert")).to_contain_text(
            f"steps.n.connection: no elasticsearch connection '{hidden_id}'")
        web.check_page(tab, "workflows-yaml-refused", status=400)
    finally:
        context.close()


def test_the_yaml_view_round_trips_a_new_name(signed_in_page: Page, served: Served) -> None:
    name = f"Round trip {secrets.token_hex(3)}"
    workflow_id = served.save_workflow(
        {"name": name, "steps": [{"id": "n", "action": "fireline.noop"}]})
    page = signed_in_page
    page.goto(f"/incident_workflows/{workflow_id}")
    page.get_by_role("link", name="Edit as YAML").click()
    web.check_page(page, "workflows-yaml")
    definition = page.get_by_label("Definition")
    expect(definition).to_contain_text(f"name: {name}")
    definition.fill(definition.input_value().replace(f"name: {name}", f"name: {name} v2"))
    page.get_by_role("button", name="Save workflow").click()
    expect(page.get_by_role("heading", name=f"{name} v2", level=1)).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name=f"{name} v2", level=1)).to_be_visible()
    page.get_by_role("link", name="Edit as YAML").click()
    expect(page.get_by_label("Definition")).to_contain_text(f"name: {name} v2")
