"""Services and incidents in Chromium against `fireline serve` (issue 13): a service and its
Events API v2 integration are created in the browser; an event sent to `/v2/enqueue` with the
routing key the page shows appears in the incident list without a reload; the incident is
opened, noted, acknowledged and resolved, each in its timeline. Every page visited passes
`web.check_page` (axe, console, CSP, screenshot) and the SEC-1 scan."""

from __future__ import annotations

import secrets

import httpx
from playwright.sync_api import Page, expect

from tests.served import web
from tests.served.harness import Served


def test_an_event_opens_an_incident_that_is_noted_acknowledged_and_resolved(
    signed_in_page: Page, served: Served
) -> None:
    suffix = secrets.token_hex(3)
    page = signed_in_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Services").click()
    page.get_by_role("link", name="Add service").click()
    web.check_page(page, "services-new")
    service = f"Checkout {suffix}"
    page.get_by_label("Name").fill(service)
    page.get_by_label("Description").fill("The checkout path")
    page.get_by_role("button", name="Add service").click()
    expect(page.get_by_role("status")).to_contain_text(f"Service “{service}” created")
    expect(page.get_by_role("heading", name=service, level=1)).to_be_visible()
    web.check_page(page, "services-detail")

    page.get_by_role("button", name="Add integration").click()
    expect(page.get_by_role("status")).to_contain_text("added")
    routing_key = page.locator("#routing-key").inner_text().strip()
    web.check_page(page, "services-integration")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    web.check_page(page, "incidents-list")
    summary = f"Payments failing on web-{suffix}"
    sent = httpx.post(f"{served.base_url}/v2/enqueue", json={
        "routing_key": routing_key, "event_action": "trigger",
        "payload": {"summary": summary, "source": f"web-{suffix}", "severity": "critical"}})
    assert sent.status_code == 202, sent.text
    row = page.get_by_role("row").filter(has_text=summary)
    expect(row).to_have_count(1, timeout=20_000)  # the list polls: no reload
    expect(row).to_contain_text("triggered")

    row.get_by_role("link", name=summary).click()
    expect(page.get_by_role("heading", name=summary, level=1)).to_be_visible()
    web.check_page(page, "incident-detail")
    page.get_by_label("Note", exact=True).fill("Rolled back the payment worker")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#notes")).to_contain_text("Rolled back the payment worker")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status")).to_contain_text("cknowledged")
    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status")).to_contain_text("esolved")
    timeline = page.locator("#timeline")
    for label in ("Triggered", "Note added", "Acknowledged", "Resolved"):
        expect(timeline).to_contain_text(label)
    web.check_page(page, "incident-resolved")
