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
    return fake.Instance(
        client_id=SECRETS["client_id"], client_secret=SECRETS["client_secret"],
        username=SECRETS["username"], password=SECRETS["password"],
        tables={
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


CASE = ToolCase(
    slug="servicenow",
    fake=lambda: fake.make_app(_instance()),
    hosts=(HOST,),
    config={"url": f"https://{HOST}"},
    secrets=SECRETS,
    steps=(("retrieve_runbook", {"article": "KB0010001", "include_attachments": True}),),
    check=_check,
    wrong_secrets={**SECRETS, "password": "not-the-password"},
)
