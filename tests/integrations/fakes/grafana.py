"""A small Grafana: service-account Bearer auth (401 `{"message": "Invalid API key"}` like
Grafana), `GET /api/org`, the Grafana Alertmanager's `GET /api/v2/alerts` with its
`active`/`silenced`/`inhibited` flags, repeated `filter` matchers (=, !=, =~, !~) and a
`receiver` regex, over in-memory alert instances; and Loki's `query_range` behind the data
source proxy, for LogQL `{label matchers} [|= "text"] [!= "text"]` over in-memory streams
(`count_over_time(...)` answers a matrix, as Loki does for metric queries)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_MATCHER = re.compile(r'^\s*(\w+)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')
_LOGQL = re.compile(r'^\{(?P<selector>[^}]*)\}(?P<stages>(?:\s*(?:\|=|!=)\s*"[^"]*")*)\s*$')
_STAGE = re.compile(r'(\|=|!=)\s*"([^"]*)"')


@dataclass
class GrafanaState:
    token: str
    org_name: str
    alerts: list[dict[str, Any]]  # gettableAlert objects
    # Loki data source uid -> streams ({"stream": labels, "values": [[ns, line], ...]})
    loki: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    loki_params: list[dict[str, str]] = field(default_factory=list)


def _matches(labels: dict[str, str], matcher: str) -> bool:
    parsed = _MATCHER.match(matcher)
    if parsed is None:
        raise ValueError(matcher)
    name, op, value = parsed.groups()
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    found = re.fullmatch(value, actual) is not None
    return found if op == "=~" else not found


def make_app(state: GrafanaState) -> Starlette:
    def authorized(request: Request) -> JSONResponse | None:
        if request.headers.get("authorization") != f"Bearer {state.token}":
            return JSONResponse({"message": "Invalid API key", "traceID": ""}, status_code=401)
        return None

    async def org(request: Request) -> JSONResponse:
        return authorized(request) or JSONResponse({"id": 1, "name": state.org_name, "address": {}})

    async def alerts(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        query = request.query_params
        flags = {
            key: query.get(key, "true") == "true" for key in ("active", "silenced", "inhibited")
        }
        try:
            found = [
                alert
                for alert in state.alerts
                if all(_matches(alert["labels"], m) for m in query.getlist("filter"))
            ]
        except ValueError as exc:
            return JSONResponse({"code": 400, "message": f"bad matcher {exc}"}, status_code=400)
        kept = []
        for alert in found:
            status = alert["status"]
            if status["silencedBy"]:
                keep = flags["silenced"]
            elif status["inhibitedBy"]:
                keep = flags["inhibited"]
            else:
                keep = flags["active"]
            receiver = query.get("receiver")
            if receiver and not any(re.fullmatch(receiver, r["name"]) for r in alert["receivers"]):
                keep = False
            if keep:
                kept.append(alert)
        return JSONResponse(kept)

    async def loki(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        streams = state.loki.get(request.path_params["uid"])
        if streams is None:
            return JSONResponse({"message": "Unable to find datasource"}, status_code=404)
        params = dict(request.query_params)
        state.loki_params.append(params)
        query = params["query"].strip()
        if query.startswith("count_over_time("):
            return JSONResponse(
                {"status": "success", "data": {"resultType": "matrix", "result": []}}
            )
        parsed = _LOGQL.match(query)
        if parsed is None:
            return JSONResponse(
                {"status": "error", "errorType": "bad_data", "error": "parse error"},
                status_code=400,
            )
        matchers = [m for m in parsed["selector"].split(",") if m.strip()]
        stages = _STAGE.findall(parsed["stages"])
        start, end = int(params["start"]), int(params["end"])
        result = []
        for stream in streams:
            if not all(_matches(stream["stream"], m) for m in matchers):
                continue
            values = [
                [stamp, line]
                for stamp, line in stream["values"]
                if start <= int(stamp) <= end
                and all((text in line) == (op == "|=") for op, text in stages)
            ]
            values.sort(key=lambda v: int(v[0]), reverse=params["direction"] == "backward")
            if values:
                result.append(
                    {"stream": stream["stream"], "values": values[: int(params["limit"])]}
                )
        return JSONResponse(
            {"status": "success", "data": {"resultType": "streams", "result": result}}
        )

    return Starlette(
        routes=[
            Route(
                "/api/datasources/proxy/uid/{uid}/loki/api/v1/query_range", loki, methods=["GET"]
            ),
            Route("/api/org", org, methods=["GET"]),
            Route("/api/alertmanager/grafana/api/v2/alerts", alerts, methods=["GET"]),
        ]
    )
