from __future__ import annotations

from typing import Any

from tests.integrations.fakes import jeli as fake
from tests.served.cases.base import ToolCase

TOKEN = "jeli-served-token-7d41c0"
SEEDED = [
    {"id": "old", "title": "DNS outage", "status": "resolved",
     "created_at": "2026-10-01T00:00:00+00:00", "url": "https://app.jeli.io/incidents/old"},
]


def _check(outputs: dict[str, Any]) -> None:
    created = outputs["create_incident"]["incident"]
    assert created["title"] == "Checkout errors (served)"
    assert (created["severity"], created["status"]) == ("SEV2", "open")
    assert created["created_by"] == "ada@example.com"
    assert created["created_at"] == "2026-11-23T09:30:00+00:00"
    (found,) = outputs["list_incidents"]["incidents"]
    assert (found["id"], found["title"], found["status"]) == ("old", "DNS outage", "resolved")


CASE = ToolCase(
    slug="jeli",
    fake=lambda: fake.make_app(fake.Account(token=TOKEN, incidents=[dict(i) for i in SEEDED])),
    hosts=("api.jeli.io",),
    config={"username": "ada@example.com"},
    secrets={"api_token": TOKEN},
    steps=(
        ("create_incident", {"title": "Checkout errors (served)", "summary": "5xx spike",
                             "severity": "SEV2", "started_at": "2026-11-23T09:30:00Z"}),
        ("list_incidents", {"title_contains": "dns"}),
    ),
    check=_check,
)
