from __future__ import annotations

from typing import Any

from tests.integrations.fakes import logzio as fake
from tests.served.cases.base import ToolCase

TOKEN = "5e2d1c0b-aaaa-bbbb-cccc-served000001"
DOCS = [
    {"@timestamp": "2026-11-23T10:00:00Z", "level": "ERROR", "message": "payment failed"},
    {"@timestamp": "2026-11-23T10:01:00Z", "level": "INFO", "message": "payment ok"},
    {"@timestamp": "2026-11-23T10:02:00Z", "level": "ERROR", "message": "db timeout"},
    {"@timestamp": "2026-11-22T08:00:00Z", "level": "ERROR", "message": "yesterday"},
]


def _check(outputs: dict[str, Any]) -> None:
    found = outputs["search_logs"]
    assert found["total"] == 2
    assert [hit["_source"]["message"] for hit in found["hits"]] == ["db timeout",
                                                                   "payment failed"]


CASE = ToolCase(
    slug="logzio",
    fake=lambda: fake.make_app(fake.LogzioState(TOKEN, "acme-prod", DOCS)),
    hosts=("api.logz.io",),
    config={"region": "us"},
    secrets={"api_token": TOKEN},
    steps=(("search_logs", {"query": "level:ERROR", "from_time": "2026-11-23T00:00:00Z",
                            "to_time": "2026-11-23T23:59:00Z"}),),
    check=_check,
)
