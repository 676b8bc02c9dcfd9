from __future__ import annotations

from typing import Any

from tests.integrations.fakes import jeli as fake
from tests.served.cases.base import ToolCase

TOKEN = "jeli-served-token-7d41c0"
SEEDED = [
    {"id": "old", "title": "DNS outage", "status": "resolved",
     "created_at": "2026-10-01T00:00:00+00:00", "url": "https://app.jeli.io/incidents/old"},
]


# The fake's state, kept so that the check can see what reached Jeli.
ACCOUNTS: list[fake.Account] = []


def _app() -> Any:
    account = fake.Account(token=TOKEN, incidents=[dict(i) for i in SEEDED])
    ACCOUNTS.append(account)
    return fake.make_app(account)


def _check(outputs: dict[str, Any]) -> None:
    created = outputs["create_incident"]["incident"]
    assert created["title"] == "Checkout errors (served)"
    assert (created["severity"], created["status"]) == ("SEV2", "open")
    assert created["created_by"] == "ada@example.com"
    assert created["created_at"] == "2026-11-23T09:30:00+00:00"
    (found,) = outputs["list_incidents"]["incidents"]
    assert (found["id"], found["title"], found["status"]) == ("old", "DNS outage", "resolved")
    review = outputs["create_post_incident_review"]["review"]
    assert (review["name"], review["incident_id"]) == ("Checkout errors review", created["id"])
    assert review["created_by"] == "ada@example.com"
    assert review["summary"].startswith("5xx spike after deploy 4127\n\nFireline reference: ")
    # One review reached Jeli, created after the WF-5 look-up of that incident's reviews.
    (stored,) = ACCOUNTS[-1].opportunities
    assert stored["id"] == review["id"]
    # (Periodic health checks call /v1/incidents meanwhile.)
    calls = [method for method, path in ACCOUNTS[-1].requests if path == "/v1/opportunities"]
    assert calls == ["GET", "POST"]


CASE = ToolCase(
    slug="jeli",
    fake=_app,
    hosts=("api.jeli.io",),
    config={"username": "ada@example.com"},
    secrets={"api_token": TOKEN},
    steps=(
        ("create_incident", {"title": "Checkout errors (served)", "summary": "5xx spike",
                             "severity": "SEV2", "started_at": "2026-11-23T09:30:00Z"}),
        ("list_incidents", {"title_contains": "dns"}),
        ("create_post_incident_review", {"name": "Checkout errors review",
                                         "incident_id": "{{ steps.step0.output.incident.id }}",
                                         "summary": "5xx spike after deploy 4127"}),
    ),
    check=_check,
)
