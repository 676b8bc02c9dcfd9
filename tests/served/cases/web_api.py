from __future__ import annotations

from typing import Any

from tests.integrations.fakes import web_api as fake
from tests.served.cases.base import ToolCase

TOKEN = "web-served-token-1f6b7e"
API_KEY = "web-served-key-3c9d20"
ITEM = "https://api.example.com/items/served-runbook"
# The fake runs in the test process: the check reads what reached it.
STATE = fake.State(token=TOKEN, api_key=API_KEY)


def _check(outputs: dict[str, Any]) -> None:
    created = outputs["http_request"]
    assert created["status_code"] == 201
    assert created["json_body"]["name"] == "from a served workflow"
    assert outputs["send_put_request"]["status_code"] == 201
    patched = outputs["send_patch_request"]["json_body"]
    assert patched == {"id": "served-runbook", "name": "runbook v2", "version": 2}
    assert outputs["send_get_request"]["json_body"] == patched
    head = outputs["send_head_request"]
    assert (head["status_code"], head["body"]) == (200, "")
    assert outputs["send_delete_request"]["status_code"] == 204
    assert "served-runbook" not in STATE.items
    posted = outputs["send_post_request"]["json_body"]
    assert STATE.items[posted["id"]] == {"id": posted["id"], "name": "posted per method"}
    assert outputs["send_webhook_post"]["status_code"] == 202
    # The Body's starting value, the incident as JSON, rendered by the served engine.
    delivery = STATE.hooks[-1]
    assert delivery["title"] == "web_api from outside" and delivery["status"] == "triggered"
    # WF-5: each POST and PATCH carried its step's `<run id>:<step id>`; the others none.
    sent = [(seen["method"], seen["path"], seen.get("idempotency-key"))
            for seen in STATE.seen if seen["path"] != "/health"][-8:]
    run_id = str(sent[0][2]).partition(":")[0]
    item = "/items/served-runbook"
    assert sent == [
        ("POST", "/items", f"{run_id}:step0"), ("PUT", item, None),
        ("PATCH", item, f"{run_id}:step2"), ("GET", item, None), ("HEAD", item, None),
        ("DELETE", item, None), ("POST", "/items", f"{run_id}:step6"),
        ("POST", "/hooks/incidents", f"{run_id}:step7"),
    ]


CASE = ToolCase(
    slug="web_api",
    fake=lambda: fake.make_app(STATE),
    hosts=("api.example.com",),
    config={"allowed_hostnames": "api.example.com",
            "health_check_url": "https://api.example.com/health",
            "health_check_method": "GET"},
    secrets={"authentication_headers": f"Authorization: Bearer {TOKEN}\nX-Api-Key: {API_KEY}"},
    steps=(
        ("http_request", {"method": "POST", "url": "https://api.example.com/items",
                          "json_body": {"name": "from a served workflow"}}),
        ("send_put_request", {"url": ITEM, "json_body": {"name": "runbook"}}),
        ("send_patch_request", {"url": ITEM, "json_body": '{"name": "runbook v2"}',
                                "headers": "Content-Type: application/merge-patch+json"}),
        ("send_get_request", {"url": ITEM}),
        ("send_head_request", {"url": ITEM}),
        ("send_delete_request", {"url": ITEM}),
        ("send_post_request", {"url": "https://api.example.com/items",
                               "json_body": {"name": "posted per method"}}),
        ("send_webhook_post", {"url": "https://api.example.com/hooks/incidents",
                               "body": "{{ incident | tojson }}"}),
    ),
    check=_check,
)
