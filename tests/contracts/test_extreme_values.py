"""Every query and path parameter of every GET in the OpenAPI document, given the values at
the edges of what the database and Python hold (the first and last instants of the calendar in
any offset, integers past 64 bits, huge and odd strings), answers a clear 4xx or a result:
never a 5xx (issue 17). Hypothesis draws the request from the document itself, so a new route
or parameter is covered without being listed; it runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Actor

_EDGE_TIMES = ("0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00-14:00",
               "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59+14:00", "0000-01-01T00:00:00Z",
               "10000-01-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T25:00:00Z")
_EDGE_NUMBERS = (2**63, -(2**63) - 1, 2**64, 10**100, -1, 0, "1e309", "NaN", "-0", "0x10")
_EDGE_TEXT = ("", " ", "9" * 400, "x" * 20_000, "\u202e\ufeff", "%", "../..", "' OR 1=1 --",
              "\U0001f525" * 50, "null", "[]", "{}")


def _offsets() -> st.SearchStrategy[timezone]:
    return st.builds(lambda minutes: timezone(timedelta(minutes=minutes)),
                     st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59))


def _times() -> st.SearchStrategy[str]:
    instants = st.datetimes(min_value=datetime.min, max_value=datetime.max,
                            timezones=st.one_of(st.none(), _offsets(), st.just(UTC)))
    return st.one_of(st.sampled_from(_EDGE_TIMES), instants.map(datetime.isoformat))


def _scalar(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    kinds = {schema.get("type")} | {item.get("type") for item in schema.get("anyOf", [])}
    formats = {schema.get("format")} | {item.get("format") for item in schema.get("anyOf", [])}
    text = st.one_of(st.sampled_from(_EDGE_TEXT), st.text(max_size=40))
    if "date-time" in formats:
        return st.one_of(_times(), text)
    if kinds & {"integer", "number"}:
        return st.one_of(st.sampled_from(_EDGE_NUMBERS),
                         st.integers(min_value=-(2**80), max_value=2**80), text)
    if "boolean" in kinds:
        return st.sampled_from(("true", "false", "1", "2", "yes", "", "TRUE"))
    if "enum" in schema:
        return st.one_of(st.sampled_from(schema["enum"]), text)
    return text


def _value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    array = schema.get("type") == "array" or any(
        item.get("type") == "array" for item in schema.get("anyOf", []))
    if array:
        items = schema.get("items") or next(
            (item.get("items", {}) for item in schema.get("anyOf", []) if "items" in item), {})
        return st.lists(_scalar(items), max_size=3)
    return _scalar(schema)


def _operations(document: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    return [(path, operation.get("parameters", []))
            for path, item in document["paths"].items()
            for method, operation in item.items() if method == "get"]


@st.composite
def _requests(draw: st.DrawFn, operations: list[tuple[str, list[dict[str, Any]]]]
              ) -> tuple[str, list[tuple[str, str]]]:
    """A GET of one operation: its path parameters filled, some of its query parameters
    (at least one, when it has any) at an edge."""
    path, parameters = draw(st.sampled_from(operations))
    for parameter in parameters:
        if parameter["in"] == "path":
            value = draw(_scalar(parameter.get("schema", {})))
            path = path.replace("{" + parameter["name"] + "}", quote(str(value), safe="") or "x")
    query = [parameter for parameter in parameters if parameter["in"] == "query"]
    chosen = draw(st.lists(st.sampled_from(query), min_size=1, max_size=3,
                           unique_by=lambda parameter: parameter["name"])) if query else []
    params: list[tuple[str, str]] = []
    for parameter in chosen:
        value = draw(_value(parameter.get("schema", {})))
        for item in value if isinstance(value, list) else [value]:
            params.append((parameter["name"], str(item)))
    return path, params


async def test_no_parameter_value_makes_a_get_answer_5xx(
    client: httpx.AsyncClient, make_actor,  # type: ignore[no-untyped-def]
) -> None:
    admin: Actor = await make_actor("admin")
    document = (await client.get("/api/openapi.json")).json()
    operations = _operations(document)
    assert len(operations) > 20, [path for path, _ in operations]
    failures: list[str] = []

    @settings(max_examples=800, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(_requests(operations))
    def check(request: tuple[str, list[tuple[str, str]]]) -> None:
        drawn.append(request)

    drawn: list[tuple[str, list[tuple[str, str]]]] = []
    check()  # hypothesis draws the requests; they are sent on this test's event loop
    for path, params in drawn:
        answer = await client.get(path, params=params, headers=admin.headers)
        if answer.status_code >= 500:
            failures.append(f"GET {path} {params!r} -> {answer.status_code}: {answer.text[:300]}")
    assert not failures, "\n".join(failures[:20])
    assert len({re.sub(r"/[^/]*$", "", path) for path, _ in drawn}) > 10  # spread wide
