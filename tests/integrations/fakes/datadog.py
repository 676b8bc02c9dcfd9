"""A small Datadog API: `DD-API-KEY`/`DD-APPLICATION-KEY` auth with Datadog's 403 body,
`GET /api/v2/validate_keys`, `POST /api/v2/logs/events/search` (a search-syntax subset:
`*`, `key:value` on reserved attributes and tags, bare words in the message, all ANDed; date
math `now-15m` or ISO 8601; sort; page limit and an opaque `meta.page.after` cursor),
`GET /api/v1/query` for `<avg|sum|min|max>:<metric>{<scope>}` over in-memory series, and
monitors: `GET /api/v1/monitor/{id}` (`group_states`, `with_downtimes`; 404 "Monitor not
found"), `GET /api/v1/monitor/search` (`status:`, `type:`, `tag:` and name words, ANDed; a bad
status is Datadog's 400 "Query parsing error"; `page`/`per_page` with `metadata`) and
`GET /api/v1/graph/snapshot` (`metric_query`, `start`, `end` required; returns
`snapshot_url`). Errors are Datadog's `{"errors": [...]}`; `rate_limited` answers 429 with
the `X-RateLimit-*` headers."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_RELATIVE = re.compile(r"^now(?:-(\d+)([smhd]))?$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_METRIC = re.compile(r"^(avg|sum|min|max):([\w.]+)\{([^}]*)\}$")
# Monitor search terms: `attribute:value`, `attribute:"quoted value"`, or a bare word.
_TERM = re.compile(r'(?:(\w+):)?(?:"([^"]*)"|(\S+))')
_STATUSES = {"alert": "Alert", "warn": "Warn", "no data": "No Data", "ok": "OK",
             "ignored": "Ignored", "skipped": "Skipped", "unknown": "Unknown"}
_GROUP_STATES = {"all", "alert", "warn", "no data"}


@dataclass
class DatadogState:
    api_key: str
    application_key: str
    logs: list[dict[str, Any]]  # {"id", "attributes": {...}} with ISO `timestamp`
    series: list[dict[str, Any]] = field(default_factory=list)  # metric, tags, points
    search_bodies: list[dict[str, Any]] = field(default_factory=list)
    # Monitor objects as GET /api/v1/monitor/{id} returns them, `state.groups` included.
    monitors: list[dict[str, Any]] = field(default_factory=list)
    downtimes: list[dict[str, Any]] = field(default_factory=list)  # each with `monitor_id`
    monitor_searches: list[dict[str, str]] = field(default_factory=list)  # query parameters
    snapshots: list[dict[str, str]] = field(default_factory=list)  # query parameters
    rate_limited: bool = False  # answer every authenticated request with Datadog's 429


def _forbidden() -> JSONResponse:
    return JSONResponse({"errors": ["Forbidden"]}, status_code=403)


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"errors": [message]}, status_code=400)


def _when(value: str) -> datetime:
    relative = _RELATIVE.match(value)
    if relative:
        delta = timedelta(**{_UNITS[relative[2]]: int(relative[1])}) if relative[1] else None
        now = datetime.now(UTC)
        return now - delta if delta else now
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _matches(attributes: dict[str, Any], query: str) -> bool:
    for term in query.split():
        if term == "*":
            continue
        key, sep, value = term.partition(":")
        if sep:
            if str(attributes.get(key, "")).lower() != value.lower() and (
                term not in attributes.get("tags", [])
            ):
                return False
        elif term.lower() not in str(attributes.get("message", "")).lower():
            return False
    return True


def _classification(monitor: dict[str, Any]) -> str:
    kind = str(monitor.get("type", ""))
    return "metric" if kind in ("metric alert", "query alert") else kind.split()[0]


def _search_result(monitor: dict[str, Any]) -> dict[str, Any]:
    groups = (monitor.get("state") or {}).get("groups") or {}
    triggered = [g["last_triggered_ts"] for g in groups.values() if g.get("last_triggered_ts")]
    return {
        "id": monitor["id"], "name": monitor["name"], "status": monitor["overall_state"],
        "type": monitor["type"], "classification": _classification(monitor),
        "query": monitor["query"], "tags": monitor.get("tags", []),
        "priority": monitor.get("priority"), "org_id": 321813,
        "creator": monitor.get("creator"), "metrics": [], "notifications": [], "scopes": [],
        "last_triggered_ts": max(triggered, default=None), "overall_state_modified": None,
        "muted_until_ts": None, "restricted_roles": [],
    }


def _monitor_matches(monitor: dict[str, Any], terms: list[tuple[str, str]]) -> bool:
    for attribute, value in terms:
        if attribute == "status" and monitor["overall_state"] != _STATUSES[value.lower()]:
            return False
        if attribute == "type" and _classification(monitor) != value.lower():
            return False
        if attribute == "tag" and value not in monitor.get("tags", []):
            return False
        if not attribute and value.lower() not in monitor["name"].lower():
            return False
    return True


def _counts(found: list[dict[str, Any]], key: Any) -> list[dict[str, Any]]:
    counted: dict[str, int] = {}
    for monitor in found:
        counted[key(monitor)] = counted.get(key(monitor), 0) + 1
    return [{"count": count, "name": name} for name, count in counted.items()]


def make_app(state: DatadogState) -> Starlette:
    def admit(request: Request) -> JSONResponse | None:
        if request.headers.get("dd-api-key") != state.api_key:
            return _forbidden()
        if request.headers.get("dd-application-key") != state.application_key:
            return _forbidden()
        if state.rate_limited:
            # Datadog's 429: no Retry-After, the X-RateLimit-* headers instead.
            return JSONResponse({"errors": ["Rate limit exceeded"]}, status_code=429, headers={
                "X-RateLimit-Limit": "1000", "X-RateLimit-Period": "3600",
                "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "42",
                "X-RateLimit-Name": "monitor_search"})
        return None

    async def validate_keys(request: Request) -> JSONResponse:
        return admit(request) or JSONResponse({"status": "ok"})

    async def search(request: Request) -> JSONResponse:
        if (denied := admit(request)) is not None:
            return denied
        body = await request.json()
        state.search_bodies.append(body)
        filter_, page = body.get("filter", {}), body.get("page", {})
        limit = int(page.get("limit", 10))
        if not 1 <= limit <= 1000:
            return _bad("page[limit] must be between 1 and 1000")
        start, end = _when(filter_.get("from", "now-15m")), _when(filter_.get("to", "now"))
        found = [
            event
            for event in state.logs
            if start <= _when(event["attributes"]["timestamp"]) <= end
            and _matches(event["attributes"], filter_.get("query", "*"))
        ]
        found.sort(
            key=lambda event: event["attributes"]["timestamp"],
            reverse=body.get("sort", "timestamp") == "-timestamp",
        )
        offset = 0
        if page.get("cursor"):
            offset = json.loads(base64.urlsafe_b64decode(page["cursor"]))["offset"]
        chunk = found[offset : offset + limit]
        meta: dict[str, Any] = {"status": "done", "elapsed": 3, "request_id": "fake"}
        if offset + limit < len(found):
            after = base64.urlsafe_b64encode(json.dumps({"offset": offset + limit}).encode())
            meta["page"] = {"after": after.decode()}
        return JSONResponse({"data": [{"type": "log", **event} for event in chunk], "meta": meta})

    async def query(request: Request) -> JSONResponse:
        if (denied := admit(request)) is not None:
            return denied
        params = request.query_params
        parsed = _METRIC.match(params.get("query", ""))
        if parsed is None:
            return _bad(f"Error parsing query: {params.get('query')!r}")
        aggregator, metric, scope = parsed.groups()
        wanted = {tag.strip() for tag in scope.split(",") if tag.strip() not in ("", "*")}
        start, end = int(params["from"]) * 1000, int(params["to"]) * 1000
        buckets: dict[int, list[float]] = {}
        for series in state.series:
            if series["metric"] == metric and wanted <= set(series["tags"]):
                for ts, value in series["points"]:
                    if start <= ts <= end:
                        buckets.setdefault(ts, []).append(value)
        combine = {"avg": lambda v: sum(v) / len(v), "sum": sum, "min": min, "max": max}
        points = [[ts, combine[aggregator](values)] for ts, values in sorted(buckets.items())]
        series_out = (
            [
                {
                    "metric": metric,
                    "display_name": metric,
                    "scope": scope,
                    "expression": params["query"],
                    "pointlist": points,
                    "length": len(points),
                    "aggr": aggregator,
                }
            ]
            if points
            else []
        )
        return JSONResponse(
            {
                "status": "ok",
                "res_type": "time_series",
                "query": params["query"],
                "from_date": start,
                "to_date": end,
                "series": series_out,
            }
        )

    async def monitor(request: Request) -> JSONResponse:
        if (denied := admit(request)) is not None:
            return denied
        wanted = request.path_params["monitor_id"]
        found = next((m for m in state.monitors if m["id"] == wanted), None)
        if found is None:
            return JSONResponse({"errors": ["Monitor not found"]}, status_code=404)
        answer = {key: value for key, value in found.items() if key != "state"}
        states = {s.strip() for s in request.query_params.get("group_states", "").split(",")}
        states.discard("")
        if states - _GROUP_STATES:
            return _bad(f"Invalid group_states: {', '.join(sorted(states - _GROUP_STATES))}")
        if states:
            groups = (found.get("state") or {}).get("groups") or {}
            answer["state"] = {"groups": {
                name: group for name, group in groups.items()
                if "all" in states or group["status"].lower() in states}}
        if request.query_params.get("with_downtimes") == "true":
            answer["matching_downtimes"] = [
                d for d in state.downtimes if d["monitor_id"] == wanted]
        return JSONResponse(answer)

    async def monitor_search(request: Request) -> JSONResponse:
        if (denied := admit(request)) is not None:
            return denied
        params = request.query_params
        state.monitor_searches.append(dict(params))
        terms = [(attr, quoted or bare)
                 for attr, quoted, bare in _TERM.findall(params.get("query", ""))]
        for attribute, value in terms:
            if attribute == "status" and value.lower() not in _STATUSES:
                return _bad(f"Query parsing error: '{value}' is not a valid monitor status")
            if attribute not in ("", "status", "type", "tag"):
                return _bad(f"Query parsing error: '{attribute}' is not a valid attribute")
        page, per_page = int(params.get("page", 0)), int(params.get("per_page", 30))
        if page < 0 or per_page < 1:
            return _bad("page must be >= 0 and per_page >= 1")
        found = [m for m in state.monitors if _monitor_matches(m, terms)]
        chunk = found[page * per_page : (page + 1) * per_page]
        return JSONResponse({
            "counts": {"status": _counts(found, lambda m: m["overall_state"]),
                       "type": _counts(found, _classification)},
            "metadata": {"total_count": len(found), "page_count": math.ceil(len(found) / per_page),
                         "page": page, "per_page": per_page},
            "monitors": [_search_result(m) for m in chunk],
        })

    async def snapshot(request: Request) -> JSONResponse:
        if (denied := admit(request)) is not None:
            return denied
        params = request.query_params
        for name in ("start", "end"):
            if not params.get(name, "").isdigit():
                return _bad(f"Missing or invalid parameter: {name}")
        if "metric_query" not in params and "graph_def" not in params:
            return _bad("One of metric_query or graph_def is required")
        if "metric_query" in params and not _METRIC.match(params["metric_query"]):
            return _bad(f"Error parsing query: {params['metric_query']!r}")
        if int(params["start"]) >= int(params["end"]):
            return _bad("start must be before end")
        state.snapshots.append(dict(params))
        digest = hashlib.sha1(str(sorted(params.items())).encode()).hexdigest()
        day = datetime.fromtimestamp(int(params["end"]), UTC).strftime("%Y-%m-%d")
        return JSONResponse({
            "metric_query": params.get("metric_query", ""),
            "snapshot_url": "https://p.datadoghq.com/snapshot/view/dd-snapshots-prod/"
                            f"org_321813/{day}/{digest}.png",
        })

    return Starlette(
        routes=[
            Route("/api/v2/validate_keys", validate_keys, methods=["GET"]),
            Route("/api/v2/logs/events/search", search, methods=["POST"]),
            Route("/api/v1/query", query, methods=["GET"]),
            # Registered before /monitor/{id}: "search" is not a monitor ID.
            Route("/api/v1/monitor/search", monitor_search, methods=["GET"]),
            Route("/api/v1/monitor/{monitor_id:int}", monitor, methods=["GET"]),
            Route("/api/v1/graph/snapshot", snapshot, methods=["GET"]),
        ]
    )
