from __future__ import annotations

from typing import Any

from tests.integrations.fakes import new_relic as fake
from tests.served.cases.base import ToolCase

API_KEY = "NRAK-SERVEDABCDEFGHIJKLMNOPQRS"
ACCOUNT = 1234567
EVENTS: list[dict[str, Any]] = [
    {"eventType": "TransactionError", "appName": "checkout", "error.message": "card declined"},
    {"eventType": "TransactionError", "appName": "checkout", "error.message": "timeout"},
    {"eventType": "TransactionError", "appName": "ledger", "error.message": "deadlock"},
    {"eventType": "Transaction", "appName": "checkout", "duration": 0.3},
]


def _check(outputs: dict[str, Any]) -> None:
    found = outputs["run_nrql"]
    assert found["results"] == [{"error.message": "card declined"}, {"error.message": "timeout"}]
    assert found["count"] == 2


CASE = ToolCase(
    slug="new_relic",
    fake=lambda: fake.make_app(fake.NewRelicState(API_KEY, "oncall@example.com",
                                                  {ACCOUNT: "Production"}, EVENTS)),
    hosts=("api.newrelic.com",),
    config={"region": "US", "account_id": ACCOUNT},
    secrets={"api_key": API_KEY},
    steps=(("run_nrql", {"query": "SELECT error.message FROM TransactionError "
                                  "WHERE appName = 'checkout'"}),),
    check=_check,
)
