"""A small Jeli API (api.jeli.io/v1): Bearer token checked on every call (401
`{"error": "Invalid authentication token"}` otherwise), `GET /v1/incidents` (limit, status,
sort by `-created_at`) and `POST /v1/incidents` (title required, 422 otherwise) over
in-memory incidents; and post-incident reviews, which Jeli's API calls opportunities:
`GET /v1/opportunities` (limit, incident_id, sort by `-created_at`) and
`POST /v1/opportunities` (name required, 422 otherwise; an incident_id that names no
incident, 404)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Account:
    token: str
    incidents: list[dict[str, Any]] = field(default_factory=list)
    opportunities: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)


def make_app(account: Account) -> Starlette:
    def denied(request: Request) -> JSONResponse | None:
        account.requests.append((request.method, request.url.path))
        if request.headers.get("authorization") != f"Bearer {account.token}":
            return JSONResponse({"error": "Invalid authentication token"}, status_code=401)
        return None

    def listed(request: Request, kind: str, rows: list[dict[str, Any]],
               filter_by: str) -> JSONResponse:
        """A list answer as Jeli's: filtered by one field, newest first on request, limited."""
        found = list(rows)
        if wanted := request.query_params.get(filter_by):
            found = [row for row in found if row[filter_by] == wanted]
        if request.query_params.get("sort") == "-created_at":
            found.sort(key=lambda row: row["created_at"], reverse=True)
        return JSONResponse({kind: found[:int(request.query_params.get("limit", "25"))]})

    async def incidents(request: Request) -> JSONResponse:
        if (refused := denied(request)) is not None:
            return refused
        if request.method == "GET":
            return listed(request, "incidents", account.incidents, "status")
        body = await request.json()
        if not body.get("title"):
            return JSONResponse({"message": "title is required"}, status_code=422)
        number = len(account.incidents) + 1
        row = {
            "id": str(number),
            "title": body["title"],
            "summary": body.get("summary"),
            "severity": body.get("severity"),
            "status": "open",
            "created_by": body.get("created_by"),
            "created_at": body.get("started_at") or f"2026-11-23T12:{number:02d}:00+00:00",
            "url": f"https://app.jeli.io/incidents/{number}",
        }
        account.incidents.append(row)
        return JSONResponse({"incident": row}, status_code=201)

    async def opportunities(request: Request) -> JSONResponse:
        if (refused := denied(request)) is not None:
            return refused
        if request.method == "GET":
            return listed(request, "opportunities", account.opportunities, "incident_id")
        body = await request.json()
        if not body.get("name"):
            return JSONResponse({"message": "name is required"}, status_code=422)
        incident_id = body.get("incident_id")
        if incident_id is not None and not any(i["id"] == incident_id for i in account.incidents):
            return JSONResponse({"message": "Incident not found"}, status_code=404)
        number = len(account.opportunities) + 1
        row = {
            "id": f"opp-{number}",
            "name": body["name"],
            "incident_id": incident_id,
            "summary": body.get("summary"),
            "created_by": body.get("created_by"),
            "created_at": f"2026-11-24T08:{number:02d}:00+00:00",
            "url": f"https://app.jeli.io/opportunities/opp-{number}",
        }
        account.opportunities.append(row)
        return JSONResponse({"opportunity": row}, status_code=201)

    return Starlette(
        routes=[
            Route("/v1/incidents", incidents, methods=["GET", "POST"]),
            Route("/v1/opportunities", opportunities, methods=["GET", "POST"]),
        ]
    )
