"""A small authenticated JSON API, as a Web API connection would call: bearer token plus
an API-key header, a health endpoint (GET and HEAD), an items collection that honours
`Idempotency-Key` on POST (a replay returns the first answer, as Stripe-style APIs do), an
echo endpoint that reflects the request (to prove redaction), a large body and a redirect."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class State:
    token: str
    api_key: str
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[dict[str, str]] = field(default_factory=list)


def make_app(state: State) -> Starlette:
    ids = itertools.count(1)

    def denied(request: Request) -> Response | None:
        state.seen.append({"method": request.method, "path": request.url.path, **request.headers})
        if (
            request.headers.get("authorization") != f"Bearer {state.token}"
            or request.headers.get("x-api-key") != state.api_key
        ):
            return JSONResponse(
                {"error": "unauthorized"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        return None

    async def health(request: Request) -> Response:
        return denied(request) or Response(status_code=204)

    async def list_items(request: Request) -> Response:
        return denied(request) or JSONResponse({"items": list(state.items.values())})

    async def create_item(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        key = request.headers.get("idempotency-key")
        if key and key in state.replies:
            return JSONResponse(
                state.replies[key], status_code=201, headers={"Idempotent-Replayed": "true"}
            )
        body = await request.json()
        if not isinstance(body, dict) or "name" not in body:
            return JSONResponse({"error": "name is required"}, status_code=422)
        item = {"id": str(next(ids)), "name": body["name"]}
        state.items[item["id"]] = item
        if key:
            state.replies[key] = item
        return JSONResponse(item, status_code=201)

    async def delete_item(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        if state.items.pop(request.path_params["id"], None) is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return Response(status_code=204)

    async def echo(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        return JSONResponse(
            {
                "headers": dict(request.headers),
                "body": (await request.body()).decode(),
                "query": dict(request.query_params),
            },
            headers={"X-Api-Key": request.headers["x-api-key"], "X-Request-Id": "req-1"},
        )

    async def big(request: Request) -> Response:
        size = int(request.query_params.get("size", "100000"))
        return denied(request) or PlainTextResponse("x" * size)

    async def moved(request: Request) -> Response:
        return denied(request) or RedirectResponse("https://elsewhere.example.net/", 302)

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET", "HEAD"]),
            Route("/items", list_items, methods=["GET"]),
            Route("/items", create_item, methods=["POST"]),
            Route("/items/{id}", delete_item, methods=["DELETE"]),
            Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH"]),
            Route("/big", big, methods=["GET"]),
            Route("/moved", moved, methods=["GET"]),
        ]
    )
