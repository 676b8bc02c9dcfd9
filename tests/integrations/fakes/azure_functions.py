"""A small Azure Functions host: HTTP-triggered functions under `/api/<name>` with
`authLevel: function`. As the real host does, it matches the route and the trigger's methods
first (no match: 404 with an empty body), then checks the key from `x-functions-key` or
`?code=` (wrong or missing: 401 with an empty body), and only then runs the function."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class Function:
    keys: set[str]
    methods: set[str]  # upper-case; the trigger's `methods`
    handler: Handler
    invocations: list[str] = field(default_factory=list)  # method of each run


def make_app(functions: dict[str, Function]) -> Starlette:
    async def dispatch(request: Request) -> Response:
        function = functions.get(request.path_params["name"].lower())
        if function is None or request.method not in function.methods:
            return Response(status_code=404)
        key = request.headers.get("x-functions-key") or request.query_params.get("code")
        if key not in function.keys:
            return Response(status_code=401)
        function.invocations.append(request.method)
        return await function.handler(request)

    return Starlette(
        routes=[
            Route(
                "/api/{name}",
                dispatch,
                methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"],
            )
        ]
    )
