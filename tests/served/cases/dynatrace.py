from __future__ import annotations

from typing import Any

from tests.integrations.fakes import dynatrace as fake
from tests.served.cases.base import ToolCase

CLIENT_ID = "dt0s02.SERVEDCLIENT"
CLIENT_SECRET = "dt0s02.SERVEDCLIENT.SECRETPARTOFTHESERVEDCLIENTSECRET"
RECORDS = [
    {"timestamp": "2026-11-23T10:00:00Z", "loglevel": "ERROR", "content": "payment failed"},
    {"timestamp": "2026-11-23T10:01:00Z", "loglevel": "INFO", "content": "payment ok"},
    {"timestamp": "2026-11-23T10:02:00Z", "loglevel": "ERROR", "content": "db timeout"},
    {"timestamp": "2026-11-22T09:00:00Z", "loglevel": "ERROR", "content": "yesterday's timeout"},
]


def _state() -> fake.DynatraceState:
    return fake.DynatraceState(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, account_uuid=None,
        scopes=frozenset({"storage:logs:read", "storage:buckets:read"}), records=RECORDS)


def _check(outputs: dict[str, Any]) -> None:
    found = outputs["search_logs"]
    assert found["state"] == "SUCCEEDED"
    assert [record["content"] for record in found["records"]] == ["payment failed", "db timeout"]
    assert found["record_count"] == 2


CASE = ToolCase(
    slug="dynatrace",
    fake=lambda: fake.make_app(_state()),
    # The SSO token endpoint, and the SaaS environment's platform (Grail) host.
    hosts=("sso.dynatrace.com", "abc12345.apps.dynatrace.com"),
    config={"environment_type": "saas", "environment_url": "https://abc12345.live.dynatrace.com"},
    secrets={"oauth2_client_id": CLIENT_ID, "oauth_client_secret": CLIENT_SECRET},
    steps=(("search_logs", {"query": 'fetch logs | filter loglevel == "ERROR"',
                            "timeframe_start": "2026-11-23T00:00:00Z",
                            "timeframe_end": "2026-11-23T23:59:00Z", "max_records": 50}),),
    check=_check,
    wrong_secrets={"oauth2_client_id": CLIENT_ID,
                   "oauth_client_secret": "dt0s02.SERVEDCLIENT.WRONGWRONGWRONG"},
)
