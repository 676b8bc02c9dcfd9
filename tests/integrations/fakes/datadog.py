"""A small Datadog API: `DD-API-KEY`/`DD-APPLICATION-KEY` auth with Datadog's 403 body,
`GET /api/v2/validate_keys`, `POST /api/v2/logs/events/search` (a search-syntax subset:
`*`, `key:value` on reserved attributes and tags, bare words in the message, all ANDed; date
math `now-15m` or ISO 8601; sort; page limit and an opaque `meta.page.after` cursor), and
`GET /api/v1/query` for `<avg|sum|min|max>:<metric>{<scope>}` over in-memory series."""

from __future__ import annotations

import base64
import json
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


@dataclass
class DatadogState:
    api_key: str
    application_key: str
    logs: list[dict[str, Any]]  # {"id", "attributes": {...}} with ISO `timestamp`
    series: list[dict[str, Any]] = field(default_factory=list)  # metric, tags, points
    search_bodies: list[dict[str, Any]] = field(default_factory=list)


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


def make_app(state: DatadogState) -> Starlette:
    def authorized(request: Request) -> JSONResponse | None:
        if request.headers.get("dd-api-key") != state.api_key:
            return _forbidden()
        if request.headers.get("dd-application-key") != state.application_key:
            return _forbidden()
        return None

    async def validate_keys(request: Request) -> JSONResponse:
        return authorized(request) or JSONResponse({"status": "ok"})

    async def search(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
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
        if (denied := authorized(request)) is not None:
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

    return Starlette(
        routes=[
            Route("/api/v2/validate_keys", validate_keys, methods=["GET"]),
            Route("/api/v2/logs/events/search", search, methods=["POST"]),
            Route("/api/v1/query", query, methods=["GET"]),
        ]
    )
