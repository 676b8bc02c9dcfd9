"""A small Sumo Logic API: HTTP Basic with access ID/key (401 "Credential could not be
verified."), a 301 `moved` answer when the account lives on another deployment (decided by the
Host the request reached), `GET /api/v1/collectors`, and the Search Job API with the legacy
session-cookie rule: a job is only visible to requests carrying the cookies set when it was
created. Jobs report GATHERING RESULTS on the first status poll, then DONE GATHERING RESULTS.
Queries: `key=value` metadata terms and bare keywords (ANDed, case-insensitive, over `_raw`),
optionally `| count by <field>` which produces records."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_COUNT_BY = re.compile(r"\|\s*count\s+by\s+(\w+)\s*$", re.IGNORECASE)


@dataclass
class Account:
    access_key: str
    host: str  # the deployment's API host


@dataclass
class SumoState:
    accounts: dict[str, Account]  # access id -> account
    messages: list[dict[str, str]]  # message maps with `_messagetime` (epoch ms) and `_raw`
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    created_bodies: list[dict[str, Any]] = field(default_factory=list)


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"status": status, "id": secrets.token_hex(5).upper(), "code": code, "message": message},
        status_code=status,
        headers=headers,
    )


def _select(query: str, messages: list[dict[str, str]], start: int, end: int) -> Any:
    count_by = _COUNT_BY.search(query)
    terms = (query[: count_by.start()] if count_by else query).split()
    found = []
    for message in messages:
        if not start <= int(message["_messagetime"]) <= end:
            continue
        ok = True
        for term in terms:
            key, sep, value = term.partition("=")
            if sep:
                ok = ok and message.get(key.lower(), "").lower() == value.lower()
            else:
                ok = ok and term.lower() in message["_raw"].lower()
        if ok:
            found.append(message)
    records: list[dict[str, str]] = []
    if count_by:
        name = count_by.group(1).lower()
        counts: dict[str, int] = {}
        for message in found:
            counts[message.get(name, "")] = counts.get(message.get(name, ""), 0) + 1
        records = [{name: key, "_count": str(n)} for key, n in sorted(counts.items())]
    return found, records


def make_app(state: SumoState) -> Starlette:
    def authorized(request: Request) -> Response | None:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            access_id, _, access_key = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            access_id = access_key = ""
        account = state.accounts.get(access_id)
        if scheme != "Basic" or account is None or account.access_key != access_key:
            return _error(401, "unauthorized", "Credential could not be verified.")
        host = request.headers.get("host", "").split(":")[0]
        if host != account.host:
            location = f"https://{account.host}{request.url.path}"
            return _error(
                301,
                "moved",
                "The requested resource SHOULD be accessed through returned URI in Location "
                "Header.",
                Location=location,
            )
        return None

    def job_for(request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        if (denied := authorized(request)) is not None:
            return None, denied
        job = state.jobs.get(request.path_params["job"])
        # Legacy rule: without the job's session cookie, the job does not exist for you.
        if job is None or request.cookies.get("JSESSIONID") != job["session"]:
            return None, _error(404, "searchjob.jobid.invalid", "Job ID is invalid.")
        return job, None

    async def collectors(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        limit = int(request.query_params.get("limit", "1000"))
        found = [{"id": 100, "name": "prod-collector", "collectorType": "Hosted"}]
        return JSONResponse({"collectors": found[:limit]})

    async def create(request: Request) -> Response:
        if (denied := authorized(request)) is not None:
            return denied
        body = await request.json()
        state.created_bodies.append(body)
        for name in ("query", "from", "to", "timeZone"):
            if name not in body:
                return _error(400, "searchjob.missing.field", f"Field '{name}' is missing.")
        job_id, session = secrets.token_hex(8).upper(), secrets.token_hex(12)
        found, records = _select(body["query"], state.messages, int(body["from"]), int(body["to"]))
        state.jobs[job_id] = {"session": session, "messages": found, "records": records, "polls": 0}
        response = JSONResponse(
            {"id": job_id, "link": {"rel": "self", "href": f"{request.url}/{job_id}"}},
            status_code=202,
        )
        response.set_cookie("JSESSIONID", session, path="/api", secure=True, httponly=True)
        response.set_cookie("AWSALB", secrets.token_hex(6), path="/", secure=True)
        return response

    async def status(request: Request) -> Response:
        job, denied = job_for(request)
        if job is None:
            return denied  # type: ignore[return-value]
        job["polls"] += 1
        done = job["polls"] >= 2
        return JSONResponse(
            {
                "state": "DONE GATHERING RESULTS" if done else "GATHERING RESULTS",
                "messageCount": len(job["messages"]) if done else 0,
                "recordCount": len(job["records"]) if done else 0,
                "histogramBuckets": [],
                "pendingErrors": [],
                "pendingWarnings": [],
            }
        )

    def page(kind: str) -> Any:
        async def endpoint(request: Request) -> Response:
            job, denied = job_for(request)
            if job is None:
                return denied  # type: ignore[return-value]
            offset = int(request.query_params["offset"])
            limit = int(request.query_params["limit"])
            if limit > 10_000:
                return _error(400, "searchjob.limit.too.large", "Limit is too large.")
            items = job[kind][offset : offset + limit]
            fields = sorted({name for item in items for name in item})
            return JSONResponse(
                {
                    "fields": [
                        {"name": n, "fieldType": "string", "keyField": False} for n in fields
                    ],
                    kind: [{"map": item} for item in items],
                }
            )

        return endpoint

    async def delete(request: Request) -> Response:
        job, denied = job_for(request)
        if job is None:
            return denied  # type: ignore[return-value]
        job_id = request.path_params["job"]
        del state.jobs[job_id]
        state.deleted.append(job_id)
        return JSONResponse({"id": job_id})

    return Starlette(
        routes=[
            Route("/api/v1/collectors", collectors, methods=["GET"]),
            Route("/api/v1/search/jobs", create, methods=["POST"]),
            Route("/api/v1/search/jobs/{job}", status, methods=["GET"]),
            Route("/api/v1/search/jobs/{job}", delete, methods=["DELETE"]),
            Route("/api/v1/search/jobs/{job}/messages", page("messages"), methods=["GET"]),
            Route("/api/v1/search/jobs/{job}/records", page("records"), methods=["GET"]),
        ]
    )
