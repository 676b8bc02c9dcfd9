from __future__ import annotations

import time
from typing import Any

from tests.integrations.fakes import splunk as fake
from tests.served.cases.base import ToolCase

HOST = "splunk.example.com"
# A JWT-shaped authentication token: sent as `Authorization: Bearer …`.
TOKEN = (
    "eyJraWQiOiJzcGx1bmsuc2VjcmV0IiwiYWxnIjoiSFM1MTIifQ"
    ".eyJzdWIiOiJwZC13b3JrZmxvd3MiLCJhdWQiOiJmaXJlbGluZSJ9.c2VydmVkLXNpZ25hdHVyZQ"
)


def _app() -> Any:
    # Event times relative to when the fake starts, inside the search's default last hour.
    now = time.time()
    events = [
        {"_time": now - 60, "_raw": "ERROR payment timeout order=17", "host": "web-1",
         "index": "main", "sourcetype": "app"},
        {"_time": now - 120, "_raw": "INFO payment ok order=16", "host": "web-1",
         "index": "main", "sourcetype": "app"},
        {"_time": now - 180, "_raw": "ERROR db connection refused", "host": "db-1",
         "index": "main", "sourcetype": "postgres"},
        {"_time": now - 30, "_raw": "ERROR audit denied", "host": "sec-1",
         "index": "security", "sourcetype": "audit"},
    ]
    return fake.make_app(token=TOKEN, session_key="served-session-key-unused",
                         username="pd-workflows", events=events)


def _check(outputs: dict[str, Any]) -> None:
    found = outputs["search"]
    assert found["count"] == 2
    assert [r["_raw"] for r in found["results"]] == [
        "ERROR payment timeout order=17", "ERROR db connection refused"]
    assert found["results"][0]["host"] == "web-1"


CASE = ToolCase(
    slug="splunk",
    fake=_app,
    hosts=(HOST,),
    port=8089,
    config={"url": f"https://{HOST}:8089"},
    secrets={"authentication_token": TOKEN},
    steps=(("search", {"query": "index=main ERROR", "earliest_time": "-1h"}),),
    check=_check,
)
