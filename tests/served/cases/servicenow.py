from __future__ import annotations

from typing import Any

from tests.integrations.fakes import servicenow as fake
from tests.served.cases.base import ToolCase

HOST = "acme.service-now.com"
SECRETS = {
    "username": "pd.integration",
    "password": "snow-served-password-4e8a",
    "client_id": "be3aeb583ace210011c15b24a43e25d8",
    "client_secret": "snow-served-client-secret-91c0",
}
SYS_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
HTML = "<h2>Restart the payments API</h2><ol><li>Drain the node</li><li>Restart it</li></ol>"
PAYMENTS_SRE = "287ebd7da9fe198100f92cc8d1d2154e"
ABEL = "62826bf03710200044e0bfc8bcbe5df1"
INSTANCES: list[fake.Instance] = []  # the fake's state, for the check to read


def _instance() -> fake.Instance:
    article = {
        "sys_id": SYS_ID,
        "number": "KB0010001",
        "short_description": "Payments API restart runbook",
        "text": HTML,
        "author": {"value": "6816f79cc0a8016401c5a33be04be441", "display_value": "Fred Luddy"},
        "kb_knowledge_base": {"value": "a7e8a78bff0221009b20ffffffffff17", "display_value": "IT"},
        "workflow_state": {"value": "published", "display_value": "Published"},
        "sys_updated_on": "2026-11-20 09:30:00",
    }
    instance = fake.Instance(
        client_id=SECRETS["client_id"], client_secret=SECRETS["client_secret"],
        username=SECRETS["username"], password=SECRETS["password"],
        tables={
            "incident": [],
            "sys_user_group": [{"sys_id": PAYMENTS_SRE, "name": "Payments SRE"}],
            "sys_user": [{"sys_id": ABEL, "user_name": "abel.tuter", "name": "Abel Tuter",
                          "email": "abel.tuter@example.com"}],
            "sn_km_mr_st_kb_knowledge": [article],
            "kb_knowledge": [{key: article[key] for key in (
                "sys_id", "kb_knowledge_base", "workflow_state", "sys_updated_on")}],
        },
        attachments=[{
            "sys_id": "aa" * 16,
            "file_name": "dashboard.png",
            "content_type": "image/png",
            "size_bytes": "20480",
            "download_link": f"https://{HOST}/api/now/attachment/{'aa' * 16}/file",
            "table_name": "kb_knowledge",
            "table_sys_id": SYS_ID,
            "sys_created_on": "2026-11-19 08:00:00",
        }],
    )
    INSTANCES.append(instance)
    return instance


def _check(outputs: dict[str, Any]) -> None:
    runbook = outputs["retrieve_runbook"]
    assert (runbook["number"], runbook["sys_id"]) == ("KB0010001", SYS_ID)
    assert runbook["title"] == "Payments API restart runbook"
    assert runbook["content"] == HTML
    assert runbook["content_text"] == "Restart the payments API\n\n- Drain the node\n- Restart it"
    assert (runbook["author"], runbook["knowledge_base"], runbook["workflow_state"]) == (
        "Fred Luddy", "IT", "Published")
    assert [(a["file_name"], a["size_bytes"]) for a in runbook["attachments"]] == [
        ("dashboard.png", 20480)]
    incident = outputs["create_incident"]
    assert incident["created"] and incident["number"].startswith("INC")
    assert (incident["urgency"], incident["impact"], incident["priority"]) == (1, 2, 2)
    assert (incident["assignment_group"], incident["caller"]) == (PAYMENTS_SRE, ABEL)
    assert incident["link"] == (
        f"https://{HOST}/nav_to.do?uri=incident.do%3Fsys_id%3D{incident['sys_id']}")
    (stored,) = [r for r in INSTANCES[-1].tables["incident"]
                 if r["sys_id"] == incident["sys_id"]]
    assert stored["short_description"] == "Checkout p99 above 2s"
    assert stored["description"] == "See KB0010001: Payments API restart runbook"
    # WF-5: the run's idempotency key, as the incident's correlation ID.
    assert stored["correlation_id"].startswith("fireline:")
    assert stored["correlation_display"] == "Fireline"


CASE = ToolCase(
    slug="servicenow",
    fake=lambda: fake.make_app(_instance()),
    hosts=(HOST,),
    config={"url": f"https://{HOST}"},
    secrets=SECRETS,
    steps=(
        ("retrieve_runbook", {"article": "KB0010001", "include_attachments": True}),
        ("create_incident", {
            "short_description": "Checkout p99 above 2s",
            "description": "See {{ steps.step0.output.number }}: {{ steps.step0.output.title }}",
            "urgency": 1, "impact": 2, "assignment_group": "Payments SRE",
            "caller": "abel.tuter"}),
    ),
    check=_check,
    wrong_secrets={**SECRETS, "password": "not-the-password"},
)
