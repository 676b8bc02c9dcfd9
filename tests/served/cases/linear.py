from __future__ import annotations

from typing import Any

from tests.integrations.fakes import linear as fake
from tests.served.cases.base import ToolCase

KEY = "lin_api_ServedPersonalKeyValue00000000000000"
ENG = {"id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "key": "ENG", "name": "Engineering"}
OPS = {"id": "1a2b3c4d-0000-4000-8000-000000000001", "key": "OPS", "name": "Operations"}
SEEDED = {
    "id": "2f1e0d9c-8b7a-4654-9321-0fedcba98765", "identifier": "OPS-1",
    "title": "Latency alarm on ledger", "description": "p99 above 2s since 09:00",
    "priority": 2, "teamId": OPS["id"],
    "url": "https://linear.app/acme/issue/OPS-1/latency-alarm-on-ledger",
    "createdAt": "2026-11-22T12:00:00.000Z", "updatedAt": "2026-11-22T12:00:00.000Z",
}


# The fake's state, kept so that the check can see what reached Linear.
WORKSPACES: list[fake.Workspace] = []


def _app() -> Any:
    workspace = fake.Workspace(
        api_key=KEY, viewer={"id": "u1", "name": "Ada Lovelace", "email": "ada@example.com"},
        teams=[ENG, OPS], issues=[dict(SEEDED)])
    WORKSPACES.append(workspace)
    return fake.make_app(workspace)


def _check(outputs: dict[str, Any]) -> None:
    created = outputs["create_issue"]["issue"]
    assert created["identifier"] == "ENG-1" and created["team_key"] == "ENG"
    assert (created["title"], created["priority"], created["priority_label"]) == (
        "Checkout latency", 1, "Urgent")
    assert created["url"].endswith("/issue/ENG-1/checkout-latency")
    fetched = outputs["get_issue"]["issue"]
    assert (fetched["id"], fetched["identifier"]) == (SEEDED["id"], "OPS-1")
    assert fetched["description"] == "p99 above 2s since 09:00"
    assert fetched["priority_label"] == "High"
    (found,) = outputs["search_issues"]["issues"]
    assert (found["identifier"], found["team_key"]) == ("OPS-1", "OPS")
    comment = outputs["comment_on_issue"]["comment"]
    assert (comment["issue_identifier"], comment["issue_id"]) == ("OPS-1", SEEDED["id"])
    assert (comment["body"], comment["user"]) == ("Mitigated: ledger p99 back under 2s",
                                                  "Ada Lovelace")
    # One comment reached Linear, created after the WF-5 look-up of its derived ID.
    (stored,) = WORKSPACES[-1].comments
    assert stored["id"] == comment["id"] and stored["issueId"] == SEEDED["id"]
    # (Periodic health checks send Viewer queries meanwhile.)
    calls = [op for op in WORKSPACES[-1].operations if op.startswith("Comment")]
    assert calls == ["CommentById", "CommentCreate"]


CASE = ToolCase(
    slug="linear",
    fake=_app,
    hosts=("api.linear.app",),
    config={},
    secrets={"api_key": KEY},
    steps=(
        ("create_issue", {"team": "eng", "title": "Checkout latency",
                          "description": "p99 > 2s", "priority": 1}),
        ("get_issue", {"issue": "OPS-1"}),
        ("search_issues", {"term": "LATENCY", "team": "ops"}),
        ("comment_on_issue", {"issue": "OPS-1", "body": "Mitigated: ledger p99 back under 2s"}),
    ),
    check=_check,
)
