"""A small Linear GraphQL endpoint: `POST /graphql` with the personal API key verbatim in
`Authorization` (401 with Linear's AUTHENTICATION_ERROR body otherwise, a `Bearer` prefix
included). Operations are dispatched by name — Viewer, TeamByKey, IssueById, IssueCreate,
GetIssue, SearchIssues, CommentById, CommentCreate — and answered from in-memory teams,
issues and comments; unknown entities give Linear's `INVALID_INPUT` "Entity not found" error
with HTTP 200, as GraphQL does. `commentCreate` takes `issueId` as an ID or an identifier
(ENG-1) and an optional client-chosen `id`, which must be new, as Linear requires."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

UNAUTHENTICATED = {
    "errors": [
        {
            "message": "Authentication required, not authenticated",
            "extensions": {
                "type": "authentication error",
                "code": "AUTHENTICATION_ERROR",
                "statusCode": 401,
                "userError": True,
                "userPresentableMessage": "You need to authenticate to access this operation.",
            },
        }
    ]
}
PRIORITY_LABELS = {0: "No priority", 1: "Urgent", 2: "High", 3: "Medium", 4: "Low"}


def _not_found(entity: str) -> JSONResponse:
    return JSONResponse(
        {
            "data": None,
            "errors": [
                {
                    "message": f"Entity not found: {entity}",
                    "extensions": {
                        "type": "invalid input",
                        "code": "INVALID_INPUT",
                        "userError": True,
                        "userPresentableMessage": f"Could not find referenced {entity}.",
                    },
                }
            ],
        }
    )


@dataclass
class Workspace:
    api_key: str
    viewer: dict[str, str]
    teams: list[dict[str, str]]
    issues: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)


def make_app(workspace: Workspace) -> Starlette:
    def team(**match: str) -> dict[str, str] | None:
        return next((t for t in workspace.teams if all(t[k] == v for k, v in match.items())), None)

    def render(issue: dict[str, Any]) -> dict[str, Any]:
        return {
            **{k: v for k, v in issue.items() if k != "teamId"},
            "priorityLabel": PRIORITY_LABELS[issue["priority"]],
            "state": {"name": "Todo"},
            "team": {"key": team(id=issue["teamId"])["key"]},  # type: ignore[index]
            "assignee": None,
        }

    def create(fields: dict[str, Any]) -> JSONResponse:
        owner = team(id=fields.get("teamId", ""))
        if owner is None:
            return _not_found("Team")
        if fields.get("id") and any(i["id"] == fields["id"] for i in workspace.issues):
            return JSONResponse(
                {"data": None, "errors": [{"message": "Duplicate id", "extensions": {}}]}
            )
        number = 1 + sum(1 for i in workspace.issues if i["teamId"] == owner["id"])
        identifier = f"{owner['key']}-{number}"
        slug = re.sub(r"[^a-z0-9]+", "-", fields["title"].lower()).strip("-")
        issue = {
            "id": fields.get("id") or str(uuid.uuid4()),
            "identifier": identifier,
            "title": fields["title"],
            "description": fields.get("description"),
            "priority": fields.get("priority", 0),
            "teamId": owner["id"],
            "url": f"https://linear.app/acme/issue/{identifier}/{slug}",
            "createdAt": "2026-11-23T12:00:00.000Z",
            "updatedAt": "2026-11-23T12:00:00.000Z",
        }
        workspace.issues.append(issue)
        return JSONResponse({"data": {"issueCreate": {"success": True, "issue": render(issue)}}})

    def issue_by(reference: str) -> dict[str, Any] | None:
        return next((i for i in workspace.issues if reference in (i["id"], i["identifier"])), None)

    def render_comment(comment: dict[str, Any]) -> dict[str, Any]:
        issue = issue_by(comment["issueId"]) or {}
        return {
            **{k: v for k, v in comment.items() if k != "issueId"},
            "user": {"name": workspace.viewer["name"]},
            "issue": {"id": issue.get("id"), "identifier": issue.get("identifier")},
        }

    def comment(fields: dict[str, Any]) -> JSONResponse:
        issue = issue_by(fields.get("issueId") or "")
        if issue is None:
            return _not_found("Issue")
        if not fields.get("body"):
            return JSONResponse(
                {
                    "data": None,
                    "errors": [
                        {
                            "message": "Argument Validation Error",
                            "extensions": {"code": "INVALID_INPUT"},
                        }
                    ],
                }
            )
        if fields.get("id") and any(c["id"] == fields["id"] for c in workspace.comments):
            return JSONResponse(
                {"data": None, "errors": [{"message": "Duplicate id", "extensions": {}}]}
            )
        comment_id = fields.get("id") or str(uuid.uuid4())
        created = {
            "id": comment_id,
            "body": fields["body"],
            "issueId": issue["id"],
            "url": f"{issue['url']}#comment-{comment_id[:8]}",
            "createdAt": "2026-11-23T12:05:00.000Z",
        }
        workspace.comments.append(created)
        return JSONResponse(
            {"data": {"commentCreate": {"success": True, "comment": render_comment(created)}}}
        )

    async def graphql(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != workspace.api_key:
            return JSONResponse(UNAUTHENTICATED, status_code=401)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse(
                {"errors": [{"message": "Must provide query string."}]}, status_code=400
            )
        body = await request.json()
        found = re.match(r"\s*(?:query|mutation)\s+(\w+)", body["query"])
        operation = found[1] if found else ""
        variables = body.get("variables") or {}
        workspace.operations.append(operation)
        if operation == "Viewer":
            return JSONResponse({"data": {"viewer": workspace.viewer}})
        if operation == "TeamByKey":
            nodes = [{"id": t["id"]} for t in workspace.teams if t["key"] == variables["key"]]
            return JSONResponse({"data": {"teams": {"nodes": nodes}}})
        if operation == "IssueById":
            nodes = [render(i) for i in workspace.issues if i["id"] == variables["id"]]
            return JSONResponse({"data": {"issues": {"nodes": nodes}}})
        if operation == "IssueCreate":
            return create(variables["input"])
        if operation == "GetIssue":
            wanted = variables["id"]
            for issue in workspace.issues:
                if wanted in (issue["id"], issue["identifier"]):
                    return JSONResponse({"data": {"issue": render(issue)}})
            return _not_found("Issue")
        if operation == "SearchIssues":
            issue_filter = variables.get("filter") or {}
            term = issue_filter["title"]["containsIgnoreCase"].lower()
            key = ((issue_filter.get("team") or {}).get("key") or {}).get("eq")
            nodes = [
                render(i)
                for i in workspace.issues
                if term in i["title"].lower()
                and (key is None or team(id=i["teamId"]) == team(key=key))
            ][: variables.get("first") or 50]
            return JSONResponse({"data": {"issues": {"nodes": nodes}}})
        if operation == "CommentById":
            nodes = [render_comment(c) for c in workspace.comments if c["id"] == variables["id"]]
            return JSONResponse({"data": {"comments": {"nodes": nodes}}})
        if operation == "CommentCreate":
            return comment(variables["input"])
        return JSONResponse(
            {"errors": [{"message": f"Unknown operation {operation}"}]}, status_code=400
        )

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])
