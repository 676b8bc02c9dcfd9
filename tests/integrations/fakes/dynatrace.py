"""A small Dynatrace: the SSO client-credentials token endpoint and the Grail query API.

Token requests are checked like Dynatrace does (form body, client ID and secret, the scopes
the client may use, the account resource); errors are 400 with `error`/`error_description`.
`query:execute` answers 202 RUNNING with a request token (or, with `immediate`, 200 SUCCEEDED
with the records); the first `query:poll` answers RUNNING, the next SUCCEEDED (or RUNNING
forever with `never_finish`, until `query:cancel`). Queries are evaluated over in-memory
log records for the DQL subset `fetch logs [| filter content contains "x"]
[| filter <field> == "v"] [| limit N]`, within the default timeframe.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_STAGE = re.compile(
    r'\|\s*(?:filter\s+(?P<field>[\w.]+)\s+(?P<op>==|contains)\s+"(?P<value>[^"]*)"'
    r"|limit\s+(?P<limit>\d+))\s*"
)


@dataclass
class DynatraceState:
    client_id: str
    client_secret: str
    account_uuid: str | None
    scopes: frozenset[str]
    records: list[dict[str, Any]]
    tokens: set[str] = field(default_factory=set)
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    execute_bodies: list[dict[str, Any]] = field(default_factory=list)
    poll_tokens: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    immediate: bool = False
    never_finish: bool = False


def _oauth_error(error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {
            "errorCode": 400,
            "message": "Bad Request",
            "issueId": secrets.token_hex(8),
            "error": error,
            "error_description": description,
        },
        status_code=400,
    )


def _grail_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message}}, status_code=status)


def run_dql(query: str, records: list[dict[str, Any]], body: dict[str, Any]) -> list[Any]:
    text = query.strip()
    if not text.startswith("fetch logs"):
        raise ValueError("PARSE_ERROR: only `fetch logs` is supported by this fake")
    rest, found = text[len("fetch logs") :].strip(), list(records)
    start, end = body.get("defaultTimeframeStart"), body.get("defaultTimeframeEnd")
    if start:
        found = [r for r in found if r["timestamp"] >= _ts(start)]
    if end:
        found = [r for r in found if r["timestamp"] <= _ts(end)]
    while rest:
        match = _STAGE.match(rest)
        if match is None:
            raise ValueError(f"PARSE_ERROR: cannot read {rest!r}")
        if match["limit"]:
            found = found[: int(match["limit"])]
        elif match["op"] == "contains":
            found = [r for r in found if match["value"] in str(r.get(match["field"], ""))]
        else:
            found = [r for r in found if str(r.get(match["field"])) == match["value"]]
        rest = rest[match.end() :]
    return found[: int(body.get("maxResultRecords", 1000))]


def _ts(value: str) -> str:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_app(state: DynatraceState) -> Starlette:
    async def token(request: Request) -> JSONResponse:
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return _oauth_error("invalid_request", "form body expected")
        form = {key: str(value) for key, value in (await request.form()).items()}
        state.token_requests.append(form)
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "grant_type not supported")
        if (form.get("client_id"), form.get("client_secret")) != (
            state.client_id,
            state.client_secret,
        ):
            # Real SSO echoes the client ID it could not authenticate.
            return _oauth_error(
                "invalid_client", f"Client authentication failed for {form.get('client_id')}"
            )
        requested = set(form.get("scope", "").split())
        if not requested or not requested <= state.scopes:
            return _oauth_error("invalid_scope", f"scopes not allowed: {sorted(requested)}")
        if state.account_uuid and form.get("resource") not in (
            None,
            f"urn:dtaccount:{state.account_uuid}",
        ):
            return _oauth_error("invalid_request", "Unknown resource")
        issued = secrets.token_urlsafe(24)
        state.tokens.add(issued)
        return JSONResponse(
            {
                "scope": " ".join(sorted(requested)),
                "token_type": "Bearer",
                "expires_in": 300,
                "access_token": issued,
                "resource": form.get("resource", ""),
            }
        )

    def authorized(request: Request) -> JSONResponse | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or value not in state.tokens:
            return _grail_error(401, "Authentication required")
        return None

    async def execute(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        body = await request.json()
        state.execute_bodies.append(body)
        try:
            records = run_dql(body["query"], state.records, body)
        except ValueError as exc:
            return _grail_error(400, str(exc))
        if state.immediate:
            return JSONResponse(
                {"state": "SUCCEEDED", "progress": 100, "result": {"records": records, "types": []}}
            )
        request_token = secrets.token_urlsafe(16) + "+/="  # real tokens carry these characters
        state.queries[request_token] = {"records": records, "polls": 0}
        return JSONResponse(
            {"state": "RUNNING", "requestToken": request_token, "ttlSeconds": 60},
            status_code=202,
        )

    async def poll(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        request_token = request.query_params.get("request-token", "")
        state.poll_tokens.append(request_token)
        query = state.queries.get(request_token)
        if query is None:
            return _grail_error(410, "The result of the query is no longer available")
        query["polls"] += 1
        if query["polls"] == 1 or state.never_finish:
            return JSONResponse({"state": "RUNNING", "progress": 50, "ttlSeconds": 60})
        return JSONResponse(
            {
                "state": "SUCCEEDED",
                "progress": 100,
                "ttlSeconds": 60,
                "result": {
                    "records": query["records"],
                    "types": [],
                    "metadata": {"grail": {"query": "fetch logs"}},
                },
            }
        )

    async def cancel(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        request_token = request.query_params.get("request-token", "")
        if state.queries.pop(request_token, None) is None:
            return _grail_error(410, "The result of the query is no longer available")
        state.cancelled.append(request_token)
        return JSONResponse({}, status_code=202)

    return Starlette(
        routes=[
            Route("/platform/storage/query/v1/query:cancel", cancel, methods=["POST"]),
            Route("/sso/oauth2/token", token, methods=["POST"]),
            Route("/platform/storage/query/v1/query:execute", execute, methods=["POST"]),
            Route("/platform/storage/query/v1/query:poll", poll, methods=["GET"]),
            Route("/e/{env}/platform/storage/query/v1/query:execute", execute, methods=["POST"]),
            Route("/e/{env}/platform/storage/query/v1/query:poll", poll, methods=["GET"]),
        ]
    )
