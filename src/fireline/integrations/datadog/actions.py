"""Datadog actions, all reads (safe to retry):
- Search Logs: `POST /api/v2/logs/events/search`, following the `meta.page.after` cursor until
  the limit is reached.
- Query Metrics: `GET /api/v1/query`.
- Get Monitor Details: `GET /api/v1/monitor/{monitor_id}` (`group_states`, `with_downtimes`).
- Get Alerting Monitors: `GET /api/v1/monitor/search` with `status:alert` (plus the step's
  filter), page by page (`page`, `per_page`; `metadata.page_count`) until the limit.
- Create Graph Snapshot: `GET /api/v1/graph/snapshot` (`metric_query`, `start`, `end` in epoch
  seconds); Datadog answers with the image's `snapshot_url` and renders it shortly after.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.datadog import client
from fireline.integrations.datadog.schema import (
    AlertingMonitor,
    CreateGraphSnapshotInput,
    DatadogConfig,
    GetAlertingMonitorsInput,
    GetAlertingMonitorsOutput,
    GetMonitorInput,
    GraphSnapshotOutput,
    MetricSeries,
    Monitor,
    MonitorGroup,
    MonitorOutput,
    QueryMetricsInput,
    QueryMetricsOutput,
    SearchLogsInput,
    SearchLogsOutput,
)

_PAGE_MAX = 1_000  # Datadog's largest page
_MONITOR_PAGE = 100
_SNAPSHOT_WINDOW = timedelta(hours=1)


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


def _monitor_url(ctx: ToolContext, monitor_id: int) -> str:
    config: DatadogConfig = ctx.config
    return f"{config.app_url}/monitors/{monitor_id}"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def get_monitor(ctx: ToolContext, data: GetMonitorInput) -> MonitorOutput:
    params: dict[str, str] = {}
    if data.group_states:
        params["group_states"] = ",".join(data.group_states)
    if data.with_downtimes:
        params["with_downtimes"] = "true"
    answer = await client.get_monitor(ctx, data.monitor_id, params)
    groups = ((answer.get("state") or {}).get("groups") or {}).items()
    return MonitorOutput(
        monitor=Monitor(
            id=int(answer["id"]),
            name=str(answer.get("name") or ""),
            type=str(answer.get("type") or ""),
            query=str(answer.get("query") or ""),
            message=answer.get("message"),
            overall_state=answer.get("overall_state"),
            priority=_int(answer.get("priority")),
            tags=list(answer.get("tags") or []),
            multi=answer.get("multi"),
            created=answer.get("created"),
            modified=answer.get("modified"),
            creator=(answer.get("creator") or {}).get("handle"),
            url=_monitor_url(ctx, int(answer["id"])),
            groups=[
                MonitorGroup(
                    name=str(name),  # keyed by the group, e.g. "host:web-1,env:prod"
                    status=group.get("status"),
                    last_triggered_ts=_int(group.get("last_triggered_ts")),
                    last_notified_ts=_int(group.get("last_notified_ts")),
                    last_resolved_ts=_int(group.get("last_resolved_ts")),
                    last_nodata_ts=_int(group.get("last_nodata_ts")),
                )
                for name, group in groups
            ],
            matching_downtimes=list(answer.get("matching_downtimes") or []),
        )
    )


async def get_alerting_monitors(
    ctx: ToolContext, data: GetAlertingMonitorsInput
) -> GetAlertingMonitorsOutput:
    query = f"status:alert {data.query}" if data.query else "status:alert"
    # One page size for every request: `page` counts pages of `per_page` monitors.
    per_page = min(_MONITOR_PAGE, data.limit)
    monitors: list[AlertingMonitor] = []
    total, page = 0, 0
    while len(monitors) < data.limit:
        answer = await client.search_monitors(ctx, query, page, per_page)
        metadata = answer.get("metadata") or {}
        total = _int(metadata.get("total_count")) or 0
        found = answer.get("monitors") or []
        for item in found[: data.limit - len(monitors)]:
            monitors.append(
                AlertingMonitor(
                    id=int(item["id"]),
                    name=str(item.get("name") or ""),
                    type=item.get("type"),
                    status=item.get("status"),
                    query=item.get("query"),
                    priority=_int(item.get("priority")),
                    tags=list(item.get("tags") or []),
                    last_triggered_ts=_int(item.get("last_triggered_ts")),
                    url=_monitor_url(ctx, int(item["id"])),
                )
            )
        page += 1
        if not found or page >= (_int(metadata.get("page_count")) or 0):
            break
    return GetAlertingMonitorsOutput(monitors=monitors, count=len(monitors), total_count=total)


async def create_graph_snapshot(
    ctx: ToolContext, data: CreateGraphSnapshotInput
) -> GraphSnapshotOutput:
    end = data.end or datetime.now(UTC)
    start = data.start or end - _SNAPSHOT_WINDOW
    if start >= end:
        raise PermanentError("Datadog graph snapshot: start must be before end")
    params: dict[str, Any] = {
        "metric_query": data.metric_query,
        "start": int(start.timestamp()),
        "end": int(end.timestamp()),
    }
    if data.event_query:
        params["event_query"] = data.event_query
    if data.title:
        params["title"] = data.title
    answer = await client.graph_snapshot(ctx, params)
    url = answer.get("snapshot_url")
    if not isinstance(url, str) or not url:
        raise PermanentError("Datadog did not return a snapshot URL")
    return GraphSnapshotOutput(
        snapshot_url=url,
        metric_query=str(answer.get("metric_query") or data.metric_query),
        start=start,
        end=end,
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

GET_MONITOR = Action(
    name="get_monitor",
    title="Get Monitor Details",
    input=GetMonitorInput,
    output=MonitorOutput,
    idempotent=True,
    run=get_monitor,
)

GET_ALERTING_MONITORS = Action(
    name="get_alerting_monitors",
    title="Get Alerting Monitors",
    input=GetAlertingMonitorsInput,
    output=GetAlertingMonitorsOutput,
    idempotent=True,
    run=get_alerting_monitors,
)

# A GET that reads: a retried step only renders the same graph again.
CREATE_GRAPH_SNAPSHOT = Action(
    name="create_graph_snapshot",
    title="Create Graph Snapshot",
    input=CreateGraphSnapshotInput,
    output=GraphSnapshotOutput,
    idempotent=True,
    run=create_graph_snapshot,
)
