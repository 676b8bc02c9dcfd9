from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integrations.fakes import sumo_logic as fake
from tests.served.cases.base import ToolCase

HOST = "api.sumologic.com"
ACCESS_ID = "suSERVEDACCOUNT"
ACCESS_KEY = "servedAccessKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
BASE = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _message(minutes: int, raw: str, category: str, host: str) -> dict[str, str]:
    stamp = int((BASE + timedelta(minutes=minutes)).timestamp() * 1000)
    return {"_messagetime": str(stamp), "_raw": raw, "_sourcecategory": category,
            "_sourcehost": host}


def _state() -> fake.SumoState:
    return fake.SumoState(
        accounts={ACCESS_ID: fake.Account(ACCESS_KEY, HOST)},
        messages=[
            _message(0, "ERROR payment failed order=42", "prod/checkout", "web-1"),
            _message(1, "INFO payment ok order=43", "prod/checkout", "web-1"),
            _message(2, "ERROR db timeout", "prod/ledger", "db-1"),
            _message(3, "ERROR payment failed order=44", "prod/checkout", "web-2"),
            _message(-120, "ERROR too old", "prod/checkout", "web-1"),
        ],
    )


def _check(outputs: dict[str, Any]) -> None:
    found = outputs["search_logs"]
    assert found["state"] == "DONE GATHERING RESULTS"
    assert found["message_count"] == 2
    assert [m["_raw"] for m in found["messages"]] == [
        "ERROR payment failed order=42", "ERROR payment failed order=44"]
    assert found["record_count"] == 0 and found["records"] == []


CASE = ToolCase(
    slug="sumo_logic",
    fake=lambda: fake.make_app(_state()),
    hosts=(HOST,),
    config={"deployment": "US1"},
    secrets={"access_id": ACCESS_ID, "access_key": ACCESS_KEY},
    steps=(("search_logs", {
        "query": "_sourceCategory=prod/checkout payment failed",
        "from_time": (BASE - timedelta(minutes=5)).isoformat(),
        "to_time": (BASE + timedelta(minutes=10)).isoformat(),
    }),),
    check=_check,
)
