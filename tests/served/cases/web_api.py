from __future__ import annotations

from typing import Any

from tests.integrations.fakes import web_api as fake
from tests.served.cases.base import ToolCase

TOKEN = "web-served-token-1f6b7e"
API_KEY = "web-served-key-3c9d20"


def _check(outputs: dict[str, Any]) -> None:
    created = outputs["http_request"]
    assert created["status_code"] == 201
    assert created["json_body"]["name"] == "from a served workflow"


CASE = ToolCase(
    slug="web_api",
    fake=lambda: fake.make_app(fake.State(token=TOKEN, api_key=API_KEY)),
    hosts=("api.example.com",),
    config={"allowed_hostnames": "api.example.com",
            "health_check_url": "https://api.example.com/health",
            "health_check_method": "GET"},
    secrets={"authentication_headers": f"Authorization: Bearer {TOKEN}\nX-Api-Key: {API_KEY}"},
    steps=(("http_request", {"method": "POST", "url": "https://api.example.com/items",
                             "json_body": {"name": "from a served workflow"}}),),
    check=_check,
)
