"""A small Runbook Automation (Rundeck) server: `X-Rundeck-Auth-Token` checked on every call
(403 `unauthorized` JSON otherwise, as Rundeck answers), API version in the path checked
(400 `api.error.api-version.unsupported` below 11), `GET /api/{v}/user/info`,
`POST /api/{v}/job/{id}/run` (JSON body: options, asUser, loglevel, filter; required options
enforced; `asUser` needs the token's user to hold `runAs`) and `GET /api/{v}/execution/{id}`,
over in-memory jobs and executions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@dataclass
class Server:
    host: str
    tokens: dict[str, str]  # token -> user login
    jobs: dict[str, dict[str, Any]]  # id -> {"name", "project", "required": [...]}
    run_as: set[str] = field(default_factory=set)  # users allowed to run as others
    executions: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": True, "apiversion": 41, "errorCode": code, "message": message},
        status_code=status,
    )


def make_app(server: Server) -> Starlette:
    def guard(request: Request) -> str | JSONResponse:
        server.requests.append((request.method, request.url.path))
        version = int(request.path_params["version"])
        if version < 11:
            return _error(
                400,
                "api.error.api-version.unsupported",
                f'Unsupported API Version "{version}". Minimum supported version: 11',
            )
        user = server.tokens.get(request.headers.get("x-rundeck-auth-token", ""))
        if user is None:
            return _error(
                403, "unauthorized", f"(Token:****) is not authorized for: {request.url.path}"
            )
        return user

    async def user_info(request: Request) -> JSONResponse:
        user = guard(request)
        if isinstance(user, JSONResponse):
            return user
        return JSONResponse(
            {"login": user, "firstName": user.title(), "lastName": "", "email": f"{user}@x.io"}
        )

    def base(version: str) -> str:
        return f"https://{server.host}/api/{version}"

    async def run(request: Request) -> JSONResponse:
        user = guard(request)
        if isinstance(user, JSONResponse):
            return user
        job = server.jobs.get(request.path_params["id"])
        if job is None:
            return _error(
                404,
                "api.error.item.doesnotexist",
                f"Job ID does not exist: {request.path_params['id']}",
            )
        # Rundeck reads a JSON body only with `Content-Type: application/json`; otherwise it
        # takes query parameters, and the body is ignored.
        json_body = request.headers.get("content-type", "").startswith("application/json")
        body = await request.json() if json_body else {}
        options = body.get("options") or {}
        missing = [name for name in job["required"] if name not in options]
        if missing:
            return _error(
                400,
                "api.error.job.options-invalid",
                f"Job options were not valid: Option '{missing[0]}' is required.",
            )
        runner = user
        if body.get("asUser"):
            if user not in server.run_as:
                return _error(
                    403,
                    "api.error.item.unauthorized",
                    f"Not authorized for action runAs for {user}",
                )
            runner = body["asUser"]
        number = len(server.executions) + 1
        version = request.path_params["version"]
        execution = {
            "id": number,
            "href": f"{base(version)}/execution/{number}",
            "permalink": f"https://{server.host}/project/{job['project']}/execution/show/{number}",
            "status": "running",
            "project": job["project"],
            "executionType": "user",
            "user": runner,
            "date-started": {"unixtime": 1795000000000, "date": "2026-11-18T10:13:20Z"},
            "job": {
                "id": request.path_params["id"],
                "name": job["name"],
                "group": "",
                "project": job["project"],
                "href": f"{base(version)}/job/{request.path_params['id']}",
                "options": options,
            },
            "description": job["name"],
            "argstring": " ".join(f"-{k} {v}" for k, v in options.items()) or None,
            "serverUUID": "3425B691-7319-4EEE-8425-F053C628B4BA",
        }
        server.executions[number] = execution
        return JSONResponse(execution)

    async def execution(request: Request) -> JSONResponse:
        user = guard(request)
        if isinstance(user, JSONResponse):
            return user
        number = int(request.path_params["id"])
        found = server.executions.get(number)
        if found is None:
            return _error(
                404, "api.error.item.doesnotexist", f"Execution ID does not exist: {number}"
            )
        return JSONResponse(found)

    return Starlette(
        routes=[
            Route("/api/{version:int}/user/info", user_info, methods=["GET"]),
            Route("/api/{version:int}/job/{id}/run", run, methods=["POST"]),
            Route("/api/{version:int}/execution/{id:int}", execution, methods=["GET"]),
        ]
    )
