"""A small authenticated JSON API, as a Web API connection would call: bearer token plus
an API-key header on every route (401 with `WWW-Authenticate` otherwise), and

- a health endpoint (GET and HEAD);
- an items collection: list and create (`POST /items`), and per item GET/HEAD, PUT (create or
  replace: 201 or 200, RFC 9110 §9.3.4), PATCH (a JSON merge patch, RFC 7396, which bumps the
  item's `version`; 415 for another media type) and DELETE (204, then 404);
- a webhook receiver (`POST /hooks/incidents`: a JSON object, 415 for another media type,
  202 with the count of deliveries received);
- an echo endpoint that reflects the request (to prove redaction), a large body, a redirect
  and a throttled endpoint (429 with `Retry-After`).

POST and PATCH honour `Idempotency-Key` as Stripe-style APIs and the IETF httpapi draft do: a
replay of the same request returns the first answer with `Idempotent-Replayed: true` and
changes nothing; the same key on a different request is refused with 422.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

_MERGE_PATCH = ("application/merge-patch+json", "application/json")


@dataclass
class State:
    token: str
    api_key: str
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Idempotency-Key -> (method, path, body) of the first request, and its answer.
    replies: dict[str, tuple[tuple[str, str, bytes], int, Any]] = field(default_factory=dict)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    seen: list[dict[str, str]] = field(default_factory=list)


Handler = Callable[[Request, bytes], Awaitable[tuple[int, Any]]]


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


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

    def keyed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Authentication, then the Idempotency-Key rule around a non-idempotent handler."""

        async def endpoint(request: Request) -> Response:
            if (refused := denied(request)) is not None:
                return refused
            body = await request.body()
            key = request.headers.get("idempotency-key")
            fingerprint = (request.method, request.url.path, body)
            if key and key in state.replies:
                first, status, content = state.replies[key]
                if first != fingerprint:
                    return JSONResponse(
                        {"error": "this Idempotency-Key was used for a different request"},
                        status_code=422,
                    )
                return JSONResponse(
                    content, status_code=status, headers={"Idempotent-Replayed": "true"}
                )
            status, content = await handler(request, body)
            if key and status < 500:
                state.replies[key] = (fingerprint, status, content)
            return JSONResponse(content, status_code=status)

        return endpoint

    async def health(request: Request) -> Response:
        return denied(request) or Response(status_code=204)

    async def list_items(request: Request) -> Response:
        return denied(request) or JSONResponse({"items": list(state.items.values())})

    async def create_item(request: Request, body: bytes) -> tuple[int, Any]:
        fields = _json_object(body)
        if fields is None or "name" not in fields:
            return 422, {"error": "name is required"}
        item = {"id": str(next(ids)), "name": fields["name"]}
        state.items[item["id"]] = item
        return 201, item

    async def get_item(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        item = state.items.get(request.path_params["id"])
        if item is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(item)

    async def put_item(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        fields = _json_object(await request.body())
        if fields is None or "name" not in fields:
            return JSONResponse({"error": "name is required"}, status_code=422)
        item_id = request.path_params["id"]
        created = item_id not in state.items
        state.items[item_id] = {**fields, "id": item_id}
        return JSONResponse(state.items[item_id], status_code=201 if created else 200)

    async def patch_item(request: Request, body: bytes) -> tuple[int, Any]:
        item = state.items.get(request.path_params["id"])
        if item is None:
            return 404, {"error": "not found"}
        if _media_type(request) not in _MERGE_PATCH:
            return 415, {"error": "send application/merge-patch+json"}
        patch = _json_object(body)
        if patch is None:
            return 400, {"error": "a merge patch is a JSON object"}
        # RFC 7396: null removes a member; the id is the resource's own.
        for name, value in patch.items():
            if name == "id":
                continue
            if value is None:
                item.pop(name, None)
            else:
                item[name] = value
        item["version"] = item.get("version", 1) + 1
        return 200, item

    async def delete_item(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        if state.items.pop(request.path_params["id"], None) is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return Response(status_code=204)

    async def receive_hook(request: Request, body: bytes) -> tuple[int, Any]:
        if _media_type(request) != "application/json":
            return 415, {"error": "send application/json"}
        delivery = _json_object(body)
        if delivery is None:
            return 400, {"error": "the payload must be a JSON object"}
        state.hooks.append(delivery)
        return 202, {"received": len(state.hooks)}

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

    async def throttled(request: Request) -> Response:
        return denied(request) or JSONResponse(
            {"error": "slow down"}, status_code=429, headers={"Retry-After": "7"}
        )

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET", "HEAD"]),
            Route("/items", list_items, methods=["GET"]),
            Route("/items", keyed(create_item), methods=["POST"]),
            Route("/items/{id}", get_item, methods=["GET", "HEAD"]),
            Route("/items/{id}", put_item, methods=["PUT"]),
            Route("/items/{id}", keyed(patch_item), methods=["PATCH"]),
            Route("/items/{id}", delete_item, methods=["DELETE"]),
            Route("/hooks/incidents", keyed(receive_hook), methods=["POST"]),
            Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH"]),
            Route("/big", big, methods=["GET"]),
            Route("/moved", moved, methods=["GET"]),
            Route("/throttled", throttled, methods=["GET", "POST"]),
        ]
    )
