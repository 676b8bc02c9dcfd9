"""A small ServiceNow instance: `oauth_token.do` (password grant, form-encoded, ServiceNow's
`{"error_description":"access_denied","error":"server_error"}` on refusal), Bearer-checked
Table API (`/api/now/table/{table}` with `sysparm_query` `a=b^c=d`, `sysparm_limit`,
`sysparm_fields`, `sysparm_display_value`, `sysparm_exclude_reference_link`;
`/api/now/table/{table}/{sys_id}`), Table API inserts (`POST /api/now/table/{table}`: a JSON
body of field values, `sys_*` fields ignored, 201 with the new record; incidents get an INC
number, priority from impact and urgency and their reference fields resolved; an insert ACL
refusal is ServiceNow's 403) and Attachment API metadata (`/api/now/attachment`), over
in-memory records."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
# Incident reference fields and the tables they point at.
REFERENCES = {"assignment_group": "sys_user_group", "caller_id": "sys_user"}
# ServiceNow's default priority lookup: (impact, urgency) -> priority.
PRIORITY = {(1, 1): 1, (1, 2): 2, (2, 1): 2, (1, 3): 3, (2, 2): 3, (3, 1): 3, (2, 3): 4,
            (3, 2): 4, (3, 3): 5}


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
    insert_denied: set[str] = field(default_factory=set)  # tables whose insert ACL refuses
    host: str = "acme.service-now.com"
    next_number: int = 10001


def _render(record: dict[str, Any], request: Request) -> dict[str, Any]:
    display = request.query_params.get("sysparm_display_value", "false")
    wanted = request.query_params.get("sysparm_fields")
    exclude_links = request.query_params.get("sysparm_exclude_reference_link") == "true"
    names = [n for n in wanted.split(",") if n in record] if wanted else list(record)
    out: dict[str, Any] = {}
    for name in names:
        value = record[name]
        if isinstance(value, dict):
            # A reference field carries a Table API `link` unless told to leave it out.
            link = None if exclude_links else value.get("link")
            if display == "all":
                value = {k: v for k, v in value.items() if k != "link"}
                if link:
                    value["link"] = link
            else:
                key = "display_value" if display == "true" else "value"
                value = {key: value[key], "link": link} if link else value[key]
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

    def failure(message: str, detail: str | None, status: int) -> JSONResponse:
        return JSONResponse(
            {"error": {"message": message, "detail": detail}, "status": "failure"},
            status_code=status,
        )

    def reference(table: str, sys_id: str) -> dict[str, str]:
        target = next((r for r in instance.tables.get(table, []) if r["sys_id"] == sys_id), {})
        return {"value": sys_id,
                "display_value": str(target.get("name", "")),
                "link": f"https://{instance.host}/api/now/table/{table}/{sys_id}"}

    async def insert(request: Request) -> JSONResponse:
        if (denied := bearer(request)) is not None:
            return denied
        name = request.path_params["table"]
        records = table_or_error(name)
        if isinstance(records, JSONResponse):
            return records
        try:
            body = json.loads(await request.body())
        except ValueError:
            return failure("Exception while reading request", "The payload is not valid JSON.",
                           400)
        if not isinstance(body, dict):
            return failure("Exception while reading request", "The payload is not valid JSON.",
                           400)
        if name in instance.insert_denied:
            return failure("Operation Failed",
                           "ACL Exception Insert Failed due to security constraints", 403)
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        # "fields that have a prefix of sys_ ... cannot be updated"
        new: dict[str, Any] = {k: str(v) for k, v in body.items() if not k.startswith("sys_")}
        new.update(sys_id=secrets.token_hex(16), sys_created_on=now, sys_updated_on=now)
        if name == "incident":
            new.setdefault("urgency", "3")
            new.setdefault("impact", "3")
            new.update(number=f"INC{instance.next_number:07d}", state="1", incident_state="1",
                       active="true", correlation_id=new.get("correlation_id", ""))
            instance.next_number += 1
            new["priority"] = str(PRIORITY.get((int(new["impact"]), int(new["urgency"])), 5))
            for field_name, table_name in REFERENCES.items():
                if new.get(field_name):
                    new[field_name] = reference(table_name, new[field_name])
        records.append(new)
        return JSONResponse(
            {"result": _render(new, request)}, status_code=201,
            headers={"Location": f"https://{instance.host}/api/now/table/{name}/{new['sys_id']}"},
        )

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
            Route("/api/now/table/{table}", insert, methods=["POST"]),
            Route("/api/now/table/{table}/{sys_id}", record, methods=["GET"]),
            Route("/api/now/attachment", attachments, methods=["GET"]),
        ]
    )
