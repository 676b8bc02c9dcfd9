"""Services and incidents in Chromium against `fireline serve` (issue 13): a service and its
Events API v2 integration are created in the browser; an event sent to `/v2/enqueue` with the
routing key the page shows appears in the incident list without a reload; the incident is
opened, noted, acknowledged and resolved, each in its timeline. On an incident's page a
conference bridge is set (a `javascript:` link refused beside its field, swapped in by htmx
without a reload) and a status update is sent, both shown on the page (issue 14). Every page
visited passes `web.check_page` (axe, console, CSP, screenshot) and the SEC-1 scan."""

from __future__ import annotations

import re
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


def test_a_conference_bridge_is_set_and_a_status_update_sent_from_the_incident_page(
    signed_in_page: Page, served: Served
) -> None:
    suffix = secrets.token_hex(3)
    incident = served.incident(f"Checkout slow {suffix}")
    url = f"/incidents/{incident['id']}"
    page = signed_in_page
    page.goto(url)
    expect(page.get_by_role("heading", name=incident["title"], level=1)).to_be_visible()
    web.check_page(page, "incident-keep-informed")

    bridge = page.locator("#conference-bridge")
    page.evaluate("() => { window.notReloaded = true; }")
    bridge.get_by_label("Dial-in number").fill("+1 415-555-0100,,42#")
    bridge.get_by_label("Join link").fill("javascript:alert(1)")
    bridge.get_by_role("button", name="Save bridge").click()
    expect(page.locator("#bridge-conference_url-error")).to_have_text(
        "conference_url must be an http:// or https:// URL")
    expect(bridge.get_by_label("Dial-in number")).to_have_value("+1 415-555-0100,,42#")
    assert page.evaluate("() => window.notReloaded === true")  # htmx swapped the section in
    web.check_page(page, "incident-bridge-refused",
                   refused=(400, f"{served.base_url}{url}/conference_bridge"))

    link = f"https://meet.example/{suffix}"
    bridge.get_by_label("Join link").fill(link)
    bridge.get_by_role("button", name="Save bridge").click()
    expect(page.get_by_role("status")).to_contain_text("Conference bridge set.")
    expect(bridge.get_by_role("link", name=link)).to_have_attribute("rel", "noopener noreferrer")
    expect(bridge).to_contain_text("+1 415-555-0100,,42#")

    stakeholders = page.locator("#stakeholders")
    stakeholders.get_by_label("User or team").select_option(
        label=f"Account Owner ({served.owner_email})")
    stakeholders.get_by_role("button", name="Add stakeholder").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Account Owner will be notified of status updates.")
    expect(stakeholders.get_by_role("link", name="Account Owner")).to_be_visible()

    updates = page.locator("#status-updates")
    message = f"Rolled back release {suffix}; error rate falling"
    updates.get_by_label("Status update", exact=True).fill(message)
    updates.get_by_label("Subject (optional)").fill("Checkout recovering")
    updates.get_by_role("button", name="Send status update").click()
    expect(page.get_by_role("status")).to_contain_text("Status update sent; 1 user notified.")
    expect(updates.get_by_role("article")).to_have_count(1)
    expect(updates.get_by_role("article")).to_contain_text(message)
    expect(updates.get_by_role("heading", name="Checkout recovering")).to_be_visible()
    for label in ("Conference bridge changed", "Status update"):
        expect(page.locator("#timeline")).to_contain_text(label)
    web.check_page(page, "incident-status-update-sent")

    # One sent elsewhere is unread until the incident is opened: the header counts it, beside
    # what other tests on this server left unread for the owner on other incidents.
    unread = page.locator("details.unread")
    before = int(unread.locator("summary").inner_text().split()[0]) if unread.count() else 0

    def counted(number: int) -> str:
        return f"{number} unread status update" + ("" if number == 1 else "s")

    sent = served.http.post(f"/api{url}/status_updates", json={"message": "Fully recovered"})
    assert sent.status_code == 200, sent.text
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    expect(unread.locator("summary")).to_have_text(counted(before + 1))
    unread.locator("summary").click()
    web.check_page(page, "incidents-unread-status-update")
    unread.get_by_role("link", name=re.compile("Fully recovered")).click()
    expect(page.locator("#status-updates")).to_contain_text("Fully recovered")
    if before:  # read now: only the others are left
        expect(unread.locator("summary")).to_have_text(counted(before))
    else:
        expect(unread).to_have_count(0)
