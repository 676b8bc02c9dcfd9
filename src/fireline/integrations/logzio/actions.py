"""Logz.io: Search Logs — `POST /v1/search` with an Elasticsearch Query DSL body.

Logz.io restricts the DSL: `query_string` must set `allow_leading_wildcard: false`, and a
search without a timestamp filter covers today and yesterday (UTC); an explicit time range
becomes a `range` filter on `@timestamp`.
"""

from __future__ import annotations

import json
from typing import Any

from fireline.core.clock import isoformat
from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.logzio import client
from fireline.integrations.logzio.schema import SearchLogsInput, SearchLogsOutput


def _query(data: SearchLogsInput) -> dict[str, Any]:
    if data.query_type == "lucene":
        query: dict[str, Any] = {
            "query_string": {"query": data.query, "allow_leading_wildcard": False}
        }
    else:
        try:
            query = json.loads(data.query)
        except json.JSONDecodeError as exc:
            raise PermanentError(f"Query DSL must be JSON: {exc.msg}") from exc
        if not isinstance(query, dict):
            raise PermanentError("Query DSL must be a JSON object")
        query = query["query"] if set(query) == {"query"} else query
    bounds = {}
    if data.from_time:
        bounds["gte"] = isoformat(data.from_time)
    if data.to_time:
        bounds["lte"] = isoformat(data.to_time)
    if bounds:
        query = {"bool": {"must": [query], "filter": [{"range": {"@timestamp": bounds}}]}}
    return query


def _total(value: Any) -> int:
    if isinstance(value, dict):
        return int(value.get("value", 0))
    return int(value or 0)


async def search_logs(ctx: ToolContext, data: SearchLogsInput) -> SearchLogsOutput:
    body = {
        "query": _query(data),
        "size": data.size,
        "sort": [{"@timestamp": {"order": "desc"}}],
    }
    answer = await client.search(ctx, body)
    hits = answer.get("hits") or {}
    return SearchLogsOutput(total=_total(hits.get("total")), hits=hits.get("hits") or [])


SEARCH_LOGS = Action(
    name="search_logs",
    title="Search Logs",
    input=SearchLogsInput,
    output=SearchLogsOutput,
    idempotent=True,
    run=search_logs,
)
