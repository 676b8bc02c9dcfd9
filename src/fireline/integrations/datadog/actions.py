"""Datadog actions: Search Logs (`POST /api/v2/logs/events/search`, following the
`meta.page.after` cursor until the limit is reached) and Query Metrics (`GET /api/v1/query`)."""

from __future__ import annotations

from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.datadog import client
from fireline.integrations.datadog.schema import (
    MetricSeries,
    QueryMetricsInput,
    QueryMetricsOutput,
    SearchLogsInput,
    SearchLogsOutput,
)

_PAGE_MAX = 1_000  # Datadog's largest page


async def search_logs(ctx: ToolContext, data: SearchLogsInput) -> SearchLogsOutput:
    filter_: dict[str, Any] = {"query": data.query, "from": data.from_time, "to": data.to_time}
    if data.indexes:
        filter_["indexes"] = data.indexes
    logs: list[dict[str, Any]] = []
    cursor = data.cursor
    while len(logs) < data.limit:
        page: dict[str, Any] = {"limit": min(_PAGE_MAX, data.limit - len(logs))}
        if cursor:
            page["cursor"] = cursor
        answer = await client.search_logs(ctx, {"filter": filter_, "sort": data.sort, "page": page})
        for event in answer.get("data") or []:
            logs.append({"id": event.get("id"), **(event.get("attributes") or {})})
        cursor = ((answer.get("meta") or {}).get("page") or {}).get("after")
        if not cursor or not answer.get("data"):
            cursor = None
            break
    return SearchLogsOutput(logs=logs, count=len(logs), next_cursor=cursor)


async def query_metrics(ctx: ToolContext, data: QueryMetricsInput) -> QueryMetricsOutput:
    answer = await client.query_metrics(
        ctx, data.query, int(data.from_time.timestamp()), int(data.to_time.timestamp())
    )
    if answer.get("status") == "error":
        raise PermanentError(f"Datadog rejected the query: {answer.get('error', 'unknown error')}")
    return QueryMetricsOutput(
        series=[
            MetricSeries(
                metric=str(series.get("metric", "")),
                scope=str(series.get("scope", "")),
                expression=str(series.get("expression", "")),
                points=[(float(ts), value) for ts, value in series.get("pointlist") or []],
            )
            for series in answer.get("series") or []
        ]
    )


SEARCH_LOGS = Action(
    name="search_logs",
    title="Search Logs",
    input=SearchLogsInput,
    output=SearchLogsOutput,
    idempotent=True,
    run=search_logs,
)

QUERY_METRICS = Action(
    name="query_metrics",
    title="Query Metrics",
    input=QueryMetricsInput,
    output=QueryMetricsOutput,
    idempotent=True,
    run=query_metrics,
)
