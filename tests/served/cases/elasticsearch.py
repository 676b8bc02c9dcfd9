from __future__ import annotations

from typing import Any

from tests.integrations.fakes import elasticsearch as fake
from tests.served.cases.base import ToolCase

KEY = fake.api_key_pair("served", "es-served-key-5b0f2c71")
DOCS = {"logs-app": [
    {"@timestamp": "2026-11-23T10:00:00Z", "level": "error", "message": "payment failed",
     "service": "checkout"},
    {"@timestamp": "2026-11-23T10:01:00Z", "level": "info", "message": "payment ok",
     "service": "checkout"},
]}


def _check(outputs: dict[str, Any]) -> None:
    found = outputs["search_logs"]
    assert found["total"] == 1
    assert found["hits"][0]["_source"]["message"] == "payment failed"


CASE = ToolCase(
    slug="elasticsearch",
    fake=lambda: fake.make_app(KEY, DOCS),
    hosts=("es.example.com",),
    port=9200,
    config={"url": "https://es.example.com:9200"},
    secrets={"api_key": KEY},
    steps=(("search_logs", {"index_pattern": "logs-*", "query_type": "kql",
                            "query": "level:error"}),),
    check=_check,
    wrong_secrets={"api_key": fake.api_key_pair("served", "not-the-key")},
)
