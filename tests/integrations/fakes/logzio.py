"""A small Logz.io API: `X-API-TOKEN` auth, `GET /v1/account-management/whoami` and
`POST /v1/search` over in-memory documents. Search bodies are evaluated with the Elasticsearch
fake's Query DSL subset, plus Logz.io's own rules: `query_string` must set
`allow_leading_wildcard: false`, and `@timestamp` ranges compare ISO 8601 instants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.integrations.fakes.elasticsearch import matches


@dataclass
class LogzioState:
    api_token: str
    account_name: str
    documents: list[dict[str, Any]]
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _check(query: dict[str, Any]) -> None:
    ((kind, body),) = query.items()
    if kind == "query_string" and body.get("allow_leading_wildcard", True):
        raise ValueError("allow_leading_wildcard must be set to false")
    if kind == "bool":
        for clause in ("must", "filter", "should", "must_not"):
            for inner in body.get(clause, []):
                _check(inner)


def _evaluate(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    ((kind, body),) = query.items()
    if kind == "range" and "@timestamp" in body:
        bounds, stamp = body["@timestamp"], doc.get("@timestamp", "")
        return ("gte" not in bounds or stamp >= bounds["gte"]) and (
            "lte" not in bounds or stamp <= bounds["lte"]
        )
    if kind == "bool":
        return (
            all(_evaluate(doc, q) for q in body.get("must", []) + body.get("filter", []))
            and not any(_evaluate(doc, q) for q in body.get("must_not", []))
            and (not body.get("should") or any(_evaluate(doc, q) for q in body["should"]))
        )
    return matches(doc, query)


def make_app(state: LogzioState) -> Starlette:
    def authorized(request: Request) -> JSONResponse | None:
        if request.headers.get("x-api-token") != state.api_token:
            return JSONResponse(
                {"errorCode": "UNAUTHORIZED", "message": "Unauthorized", "requestId": "fake"},
                status_code=401,
            )
        return None

    async def whoami(request: Request) -> JSONResponse:
        return authorized(request) or JSONResponse({"accountName": state.account_name})

    async def search(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        body = await request.json()
        state.bodies.append(body)
        query = body.get("query") or {"match_all": {}}
        try:
            _check(query)
            found = [doc for doc in state.documents if _evaluate(doc, query)]
        except (ValueError, KeyError) as exc:
            return JSONResponse(
                {"errorCode": "SEARCH/BAD_REQUEST", "message": str(exc)}, status_code=400
            )
        found.sort(key=lambda doc: doc.get("@timestamp", ""), reverse=True)
        hits = [
            {"_index": "logzioCustomerIndex", "_id": str(i), "_source": doc}
            for i, doc in enumerate(found[: body.get("size", 10)])
        ]
        return JSONResponse(
            {"hits": {"total": len(found), "max_score": None, "hits": hits}, "timed_out": False}
        )

    return Starlette(
        routes=[
            Route("/v1/account-management/whoami", whoami, methods=["GET"]),
            Route("/v1/search", search, methods=["POST"]),
        ]
    )
