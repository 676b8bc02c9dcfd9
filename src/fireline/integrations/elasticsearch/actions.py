"""Elasticsearch: Search Logs — `POST /{index_pattern}/_search` for Lucene, KQL and Query DSL,
`POST /{index_pattern}/_eql/search` for EQL (reference text)."""

from __future__ import annotations

import json
from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.elasticsearch import client
from fireline.integrations.elasticsearch.kql import kql_to_dsl
from fireline.integrations.elasticsearch.schema import SearchLogsInput, SearchLogsOutput


def _query(data: SearchLogsInput) -> dict[str, Any]:
    if data.query_type == "lucene":
        return {"query_string": {"query": data.query}}
    if data.query_type == "kql":
        try:
            return kql_to_dsl(data.query)
        except ValueError as exc:
            raise PermanentError(str(exc)) from exc
    try:
        parsed = json.loads(data.query)
    except json.JSONDecodeError as exc:
        raise PermanentError(f"Query DSL must be JSON: {exc.msg}") from exc
    if not isinstance(parsed, dict):
        raise PermanentError("Query DSL must be a JSON object")
    # Accept either a whole search body ({"query": ...}) or just the query clause.
    return parsed["query"] if "query" in parsed and len(parsed) == 1 else parsed


def _total(value: Any) -> int:
    if isinstance(value, dict):
        return int(value.get("value", 0))
    return int(value or 0)


async def search_logs(ctx: ToolContext, data: SearchLogsInput) -> SearchLogsOutput:
    if data.query_type == "eql":
        result = await client.eql_search(
            ctx, data.index_pattern, {"query": data.query, "size": data.size}
        )
        hits = result.get("hits", {})
        found = hits.get("events") or [
            event for sequence in hits.get("sequences", []) for event in sequence["events"]
        ]
        return SearchLogsOutput(total=_total(hits.get("total")), hits=found)
    body = {
        "query": _query(data),
        "size": data.size,
        "sort": [{"@timestamp": {"order": "desc", "unmapped_type": "date"}}],
    }
    result = await client.search(ctx, data.index_pattern, body)
    hits = result.get("hits", {})
    return SearchLogsOutput(total=_total(hits.get("total")), hits=hits.get("hits", []))


SEARCH_LOGS = Action(
    name="search_logs",
    title="Search Logs",
    input=SearchLogsInput,
    output=SearchLogsOutput,
    idempotent=True,
    run=search_logs,
)
