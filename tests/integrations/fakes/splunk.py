"""A small splunkd REST API: token auth the way Splunk checks it (`Authorization: Bearer
<JWT>` for authentication tokens, `Authorization: Splunk <key>` for session keys; anything
else is 401 `call not properly authenticated`, as JSON `messages` with `output_mode=json` and
as XML otherwise), `GET /services/authentication/current-context`, and oneshot searches on
`POST /services/search/v2/jobs` over in-memory events. The search language is the subset the
tests use: `search` with terms (matched in `_raw`, case-insensitive) and `field=value` pairs,
then `| head N`; unknown commands fail as Splunk's parser does (400, FATAL message)."""

from __future__ import annotations

import re
import shlex
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _messages(kind: str, text: str, status: int, as_json: bool) -> Response:
    if as_json:
        return JSONResponse({"messages": [{"type": kind, "text": text}]}, status_code=status)
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n  <messages>\n'
        f'    <msg type="{kind}">{text}</msg>\n  </messages>\n</response>\n'
    )
    return Response(xml, status_code=status, media_type="text/xml")


def _time(value: str, now: float) -> float:
    if value == "now":
        return now
    relative = re.fullmatch(r"-(\d+)([smhd])", value)
    if relative:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[relative[2]]
        return now - int(relative[1]) * unit
    return float(value)


def _run(spl: str, events: list[dict[str, Any]], earliest: float, latest: float) -> Any:
    # A leading pipe starts with a generating command; `| search` is the same as `search`.
    stages = [stage.strip() for stage in spl.strip().removeprefix("|").split("|")]
    first = stages[0].split(maxsplit=1)
    if not first or first[0] != "search":
        return f"Unknown search command '{first[0] if first else ''}'."
    terms = shlex.split(first[1]) if len(first) > 1 else []
    found = [e for e in events if earliest <= e["_time"] <= latest]
    for term in terms:
        if "=" in term:
            name, value = term.split("=", 1)
            found = [e for e in found if str(e.get(name, "")).lower() == value.lower()]
        else:
            found = [e for e in found if term.lower() in e["_raw"].lower()]
    found.sort(key=lambda e: e["_time"], reverse=True)
    for stage in stages[1:]:
        command = stage.split()
        if command[0] == "head":
            found = found[: int(command[1]) if len(command) > 1 else 10]
        else:
            return f"Unknown search command '{command[0]}'."
    return found


def make_app(
    *, token: str, session_key: str, username: str, events: list[dict[str, Any]]
) -> Starlette:
    accepted = {f"Bearer {token}", f"Splunk {session_key}"}

    def denied(request: Request, as_json: bool) -> Response | None:
        if request.headers.get("authorization") not in accepted:
            return _messages("WARN", "call not properly authenticated", 401, as_json)
        return None

    async def current_context(request: Request) -> Response:
        as_json = request.query_params.get("output_mode") == "json"
        if (refused := denied(request, as_json)) is not None:
            return refused
        return JSONResponse(
            {
                "links": {},
                "origin": f"{request.base_url}services/authentication/current-context",
                "entry": [
                    {
                        "name": username,
                        "content": {"username": username, "roles": ["user"]},
                    }
                ],
                "paging": {"total": 1, "perPage": 30, "offset": 0},
                "messages": [],
            }
        )

    async def jobs(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        as_json = form.get("output_mode") == "json"
        if (refused := denied(request, as_json)) is not None:
            return refused
        if form.get("exec_mode") != "oneshot":
            return _messages("FATAL", "this fake only runs oneshot searches", 400, as_json)
        now = time.time()
        found = _run(
            form.get("search", ""),
            events,
            _time(form.get("earliest_time", "0"), now),
            _time(form.get("latest_time", "now"), now),
        )
        if isinstance(found, str):
            return _messages("FATAL", found, 400, as_json)
        count = int(form.get("count", "100"))
        results = [
            {
                **{k: str(v) for k, v in event.items() if k != "_time"},
                "_time": time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(event["_time"])),
            }
            for event in found[: count or None]
        ]
        return JSONResponse(
            {
                "preview": False,
                "init_offset": 0,
                "messages": [],
                "fields": [{"name": name} for name in sorted({k for r in results for k in r})],
                "results": results,
                "highlighted": {},
            }
        )

    return Starlette(
        routes=[
            Route("/services/authentication/current-context", current_context, methods=["GET"]),
            Route("/services/search/v2/jobs", jobs, methods=["POST"]),
        ]
    )
