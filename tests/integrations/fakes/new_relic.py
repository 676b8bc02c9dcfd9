"""A small NerdGraph: `POST /graphql` executed by graphql-core against a slice of New Relic's
schema (`actor { user account(id) { name nrql(query, timeout) { results } } }`), so our
documents are parsed and validated like the real endpoint does.

A missing or wrong `API-Key` is a 401 with New Relic's BAD_API_KEY body; an account the key
cannot see is HTTP 200 with a FORBIDDEN GraphQL error. NRQL is evaluated over in-memory events
for the subset `SELECT count(*) | * | a, b FROM Type [WHERE attr = 'v'] [SINCE …] [LIMIT n]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, build_schema, graphql
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SCHEMA = build_schema(
    """
    scalar Nrql
    scalar Seconds
    scalar NrdbResult
    type Query { actor: Actor }
    type Actor { user: User  account(id: Int!): Account }
    type User { id: Int  email: String  name: String }
    type Account {
      id: Int
      name: String
      nrql(query: Nrql!, timeout: Seconds): NrdbResultContainer
    }
    type NrdbResultContainer { results: [NrdbResult] }
    """
)
_NRQL = re.compile(
    r"^SELECT\s+(?P<select>.+?)\s+FROM\s+(?P<type>\w+)"
    r"(?:\s+WHERE\s+(?P<field>[\w.]+)\s*=\s*'(?P<value>[^']*)')?"
    r"(?:\s+SINCE\s+.+?)?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE,
)


@dataclass
class NewRelicState:
    api_key: str
    email: str
    accounts: dict[int, str]
    events: list[dict[str, Any]]  # each has "eventType"
    documents: list[dict[str, Any]] = field(default_factory=list)


def run_nrql(query: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    parsed = _NRQL.match(query.strip())
    if parsed is None:
        raise GraphQLError(
            f"NRQL Syntax Error: Error at line 1 position 1, unexpected '{query[:20]}'",
            extensions={"errorClass": "INVALID_INPUT"},
        )
    found = [event for event in events if event["eventType"] == parsed["type"]]
    if parsed["field"]:
        found = [e for e in found if str(e.get(parsed["field"])) == parsed["value"]]
    select = parsed["select"].strip()
    if select.lower() == "count(*)":
        return [{"count": len(found)}]
    found = found[: int(parsed["limit"] or 10)]
    if select == "*":
        return [{k: v for k, v in event.items() if k != "eventType"} for event in found]
    names = [name.strip() for name in select.split(",")]
    return [{name: event.get(name) for name in names} for event in found]


def make_app(state: NewRelicState) -> Starlette:
    def account(_info: Any, id: int) -> dict[str, Any]:
        if id not in state.accounts:
            raise GraphQLError("Access denied.", extensions={"errorClass": "FORBIDDEN"})
        return {
            "id": id,
            "name": state.accounts[id],
            "nrql": lambda _info, query, timeout=None: {"results": run_nrql(query, state.events)},
        }

    async def endpoint(request: Request) -> JSONResponse:
        if request.headers.get("api-key") != state.api_key:
            return JSONResponse(
                {
                    "errors": [
                        {
                            "extensions": {"error_code": "BAD_API_KEY"},
                            "message": "Bad API Key or no API Key provided",
                        }
                    ]
                },
                status_code=401,
            )
        body = await request.json()
        state.documents.append(body)
        root = {"actor": {"user": {"id": 1, "email": state.email}, "account": account}}
        result = await graphql(
            SCHEMA, body["query"], root_value=root, variable_values=body.get("variables")
        )
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [error.formatted for error in result.errors]
        return JSONResponse(answer)

    return Starlette(routes=[Route("/graphql", endpoint, methods=["POST"])])
