"""A small Grafana: service-account Bearer auth (401 `{"message": "Invalid API key"}` like
Grafana), `GET /api/org`, and the Grafana Alertmanager's `GET /api/v2/alerts` with its
`active`/`silenced`/`inhibited` flags, repeated `filter` matchers (=, !=, =~, !~) and a
`receiver` regex, over in-memory alert instances."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_MATCHER = re.compile(r'^\s*(\w+)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


@dataclass
class GrafanaState:
    token: str
    org_name: str
    alerts: list[dict[str, Any]]  # gettableAlert objects


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

    return Starlette(
        routes=[
            Route("/api/org", org, methods=["GET"]),
            Route("/api/alertmanager/grafana/api/v2/alerts", alerts, methods=["GET"]),
        ]
    )
