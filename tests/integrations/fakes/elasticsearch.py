"""A small Elasticsearch: API-key auth, `GET /`, `_search` and `_eql/search` over in-memory
documents, evaluating the Query DSL clauses Fireline sends (match, match_phrase, multi_match,
query_string field:value, exists, range, bool) and EQL's `<category> where field == "v"`."""

from __future__ import annotations

import base64
import fnmatch
import re
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _field(doc: dict[str, Any], name: str) -> Any:
    value: Any = doc
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text_match(value: Any, needle: str) -> bool:
    if value is None:
        return False
    haystack = str(value).lower()
    return any(word in haystack.split() or word == haystack for word in needle.lower().split())


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    ((kind, body),) = query.items()
    if kind == "match_all":
        return True
    if kind == "match":
        ((name, value),) = body.items()
        return _text_match(_field(doc, name), str(value))
    if kind == "match_phrase":
        ((name, value),) = body.items()
        return str(value).lower() in str(_field(doc, name) or "").lower()
    if kind == "multi_match":
        return any(_text_match(v, body["query"]) for v in doc.values())
    if kind == "exists":
        return _field(doc, body["field"]) is not None
    if kind == "range":
        ((name, bounds),) = body.items()
        value = _field(doc, name)
        ops = {
            "gte": lambda a, b: a >= b,
            "gt": lambda a, b: a > b,
            "lte": lambda a, b: a <= b,
            "lt": lambda a, b: a < b,
        }
        return value is not None and all(
            ops[op](float(value), float(bound)) for op, bound in bounds.items()
        )
    if kind == "query_string":
        text = body["query"]
        field_match = re.fullmatch(r"(\w[\w.]*):(\S+)", text)
        if field_match:
            return fnmatch.fnmatch(
                str(_field(doc, field_match[1]) or "").lower(), field_match[2].lower()
            )
        default = body.get("default_field")
        values = [_field(doc, default)] if default else list(doc.values())
        return any(fnmatch.fnmatch(str(v).lower(), text.lower()) for v in values)
    if kind == "bool":
        return (
            all(matches(doc, q) for q in body.get("filter", []) + body.get("must", []))
            and not any(matches(doc, q) for q in body.get("must_not", []))
            and (not body.get("should") or any(matches(doc, q) for q in body["should"]))
        )
    raise ValueError(f"unsupported query {kind}")


def make_app(api_key: str, documents: dict[str, list[dict[str, Any]]]) -> Starlette:
    def authorized(request: Request) -> JSONResponse | None:
        if request.headers.get("authorization") != f"ApiKey {api_key}":
            return JSONResponse(
                {
                    # Echoes the credential, as some servers do: callers must scrub it (SEC-1).
                    "error": {"type": "security_exception",
                              "reason": "unable to authenticate with "
                              + request.headers.get("authorization", "")},
                    "status": 401,
                },
                status_code=401,
            )
        return None

    def indices(pattern: str) -> list[str]:
        return [
            name
            for name in documents
            if any(fnmatch.fnmatch(name, part) for part in pattern.split(","))
        ]

    async def root(request: Request) -> JSONResponse:
        return authorized(request) or JSONResponse(
            {
                "name": "node-1",
                "cluster_name": "fake-cluster",
                "version": {"number": "8.15.0"},
                "tagline": "You Know, for Search",
            }
        )

    async def search(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        body = await request.json()
        found = [
            {"_index": name, "_id": str(i), "_score": 1.0, "_source": doc}
            for name in indices(request.path_params["index"])
            for i, doc in enumerate(documents[name])
            if matches(doc, body["query"])
        ]
        return JSONResponse(
            {
                "took": 1,
                "timed_out": False,
                "hits": {
                    "total": {"value": len(found), "relation": "eq"},
                    "hits": found[: body.get("size", 10)],
                },
            }
        )

    async def eql(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        body = await request.json()
        parsed = re.fullmatch(r'(\w+) where ([\w.]+) == "([^"]*)"', body["query"].strip())
        if parsed is None:
            return JSONResponse(
                {"error": {"type": "parsing_exception", "reason": "bad EQL"}, "status": 400},
                status_code=400,
            )
        category, name, value = parsed.groups()
        found = [
            {"_index": index, "_id": str(i), "_source": doc}
            for index in indices(request.path_params["index"])
            for i, doc in enumerate(documents[index])
            if _field(doc, "event.category") == category and str(_field(doc, name)) == value
        ]
        return JSONResponse(
            {
                "is_partial": False,
                "is_running": False,
                "hits": {
                    "total": {"value": len(found), "relation": "eq"},
                    "events": found[: body.get("size", 10)],
                },
            }
        )

    return Starlette(
        routes=[
            Route("/", root, methods=["GET"]),
            Route("/{index}/_search", search, methods=["POST"]),
            Route("/{index}/_eql/search", eql, methods=["POST"]),
        ]
    )


def api_key_pair(key_id: str, secret: str) -> str:
    return base64.b64encode(f"{key_id}:{secret}".encode()).decode()
