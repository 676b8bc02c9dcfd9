"""A small ServiceNow instance: `oauth_token.do` (password grant, form-encoded, ServiceNow's
`{"error_description":"access_denied","error":"server_error"}` on refusal), Bearer-checked
Table API (`/api/now/table/{table}` with `sysparm_query` `a=b^c=d`, `sysparm_limit`,
`sysparm_fields`, `sysparm_display_value`; `/api/now/table/{table}/{sys_id}`) and Attachment
API metadata (`/api/now/attachment`), over in-memory records."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

NOT_AUTHENTICATED = {
    "error": {
        "message": "User Not Authenticated",
        "detail": "Required to provide Auth information",
    },
    "status": "failure",
}


@dataclass
class Instance:
    client_id: str
    client_secret: str
    username: str
    password: str
    # table name -> records; a reference/choice field is {"value": ..., "display_value": ...}
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    urls: list[str] = field(default_factory=list)  # every URL requested, for SEC-7 checks
    # A misbehaving proxy/instance that echoes the submitted form in its refusal (SEC-1).
    echo_refusals: bool = False


def _render(record: dict[str, Any], request: Request) -> dict[str, Any]:
    display = request.query_params.get("sysparm_display_value", "false")
    wanted = request.query_params.get("sysparm_fields")
    names = [n for n in wanted.split(",") if n in record] if wanted else list(record)
    out: dict[str, Any] = {}
    for name in names:
        value = record[name]
        if isinstance(value, dict):
            if display == "true":
                value = value["display_value"]
            elif display == "all":
                value = dict(value)
            else:
                value = value["value"]
        out[name] = value
    return out


def _matches(record: dict[str, Any], query: str) -> bool:
    for term in filter(None, query.split("^")):
        name, _, expected = term.partition("=")
        value = record.get(name)
        if isinstance(value, dict):
            value = value["value"]
        if str(value) != expected:
            return False
    return True


def make_app(instance: Instance) -> Starlette:
    def bearer(request: Request) -> JSONResponse | None:
        instance.urls.append(str(request.url))
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token not in instance.tokens:
            return JSONResponse(NOT_AUTHENTICATED, status_code=401)
        return None

    async def oauth_token(request: Request) -> JSONResponse:
        instance.urls.append(str(request.url))
        form = await request.form()
        description = "access_denied"
        if instance.echo_refusals:
            description += f" for username={form.get('username')}&password={form.get('password')}"
        refused = JSONResponse(
            {"error_description": description, "error": "server_error"}, status_code=401
        )
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return refused
        if (
            form.get("grant_type") != "password"
            or form.get("client_id") != instance.client_id
            or form.get("client_secret") != instance.client_secret
            or form.get("username") != instance.username
            or form.get("password") != instance.password
        ):
            return refused
        token = secrets.token_urlsafe(32)
        instance.tokens.add(token)
        return JSONResponse(
            {
                "access_token": token,
                "refresh_token": secrets.token_urlsafe(32),
                "scope": "useraccount",
                "token_type": "Bearer",
                "expires_in": 1799,
            }
        )

    def table_or_error(name: str) -> list[dict[str, Any]] | JSONResponse:
        if name not in instance.tables:
            return JSONResponse(
                {
                    "error": {"message": f"Invalid table {name}", "detail": None},
                    "status": "failure",
                },
                status_code=400,
            )
        return instance.tables[name]

    async def table(request: Request) -> JSONResponse:
        if (denied := bearer(request)) is not None:
            return denied
        records = table_or_error(request.path_params["table"])
        if isinstance(records, JSONResponse):
            return records
        query = request.query_params.get("sysparm_query", "")
        limit = int(request.query_params.get("sysparm_limit", "10000"))
        found = [_render(r, request) for r in records if _matches(r, query)][:limit]
        return JSONResponse({"result": found})

    async def record(request: Request) -> JSONResponse:
        if (denied := bearer(request)) is not None:
            return denied
        records = table_or_error(request.path_params["table"])
        if isinstance(records, JSONResponse):
            return records
        for candidate in records:
            if candidate["sys_id"] == request.path_params["sys_id"]:
                return JSONResponse({"result": _render(candidate, request)})
        return JSONResponse(
            {
                "error": {
                    "message": "No Record found",
                    "detail": "Record doesn't exist or ACL restricts the record retrieval",
                },
                "status": "failure",
            },
            status_code=404,
        )

    async def attachments(request: Request) -> JSONResponse:
        if (denied := bearer(request)) is not None:
            return denied
        query = request.query_params.get("sysparm_query", "")
        limit = int(request.query_params.get("sysparm_limit", "10000"))
        found = [a for a in instance.attachments if _matches(a, query)][:limit]
        return JSONResponse({"result": found})

    return Starlette(
        routes=[
            Route("/oauth_token.do", oauth_token, methods=["POST"]),
            Route("/api/now/table/{table}", table, methods=["GET"]),
            Route("/api/now/table/{table}/{sys_id}", record, methods=["GET"]),
            Route("/api/now/attachment", attachments, methods=["GET"]),
        ]
    )
