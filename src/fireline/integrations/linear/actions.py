"""Linear actions: Create Issue (`issueCreate`), Get Issue (`issue(id:)`, which takes an ID
or an identifier such as ENG-123), Search Issues (`issues(filter:)`, title contains) and
Comment on Issue (`commentCreate`, whose `issueId` also takes an ID or an identifier).

WF-5: `issueCreate` and `commentCreate` accept a client-chosen `id`. Both writes derive it
from the run's idempotency key (a name-based UUID in v4 form), look it up first, and return
the existing issue or comment instead of creating a second one when a retried step already
succeeded.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.linear import client
from fireline.integrations.linear.schema import (
    Comment,
    CommentOnIssueInput,
    CommentOutput,
    CreateIssueInput,
    GetIssueInput,
    Issue,
    IssueOutput,
    SearchIssuesInput,
    SearchIssuesOutput,
)

# Namespaces for issue and comment IDs derived from idempotency keys (fixed, random UUIDs).
_ID_NAMESPACE = uuid.UUID("7c0e1a52-5b8e-4d3f-9a51-3f7f0a6c2d10")
_COMMENT_NAMESPACE = uuid.UUID("d4b8f0e2-3a6c-4e1f-8b27-95c0a7e3f164")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

_ISSUE_FIELDS = """
  id identifier title url priority priorityLabel description createdAt updatedAt
  state { name } team { key } assignee { name }
"""

TEAM_BY_KEY = "query TeamByKey($key: String!) { teams(filter: {key: {eq: $key}}) { nodes { id } } }"
ISSUE_BY_ID = f"query IssueById($id: ID!) {{ issues(filter: {{id: {{eq: $id}}}}) {{ nodes {{ {_ISSUE_FIELDS} }} }} }}"  # noqa: E501
ISSUE_CREATE = f"""mutation IssueCreate($input: IssueCreateInput!) {{
  issueCreate(input: $input) {{ success issue {{ {_ISSUE_FIELDS} }} }}
}}"""
GET_ISSUE = f"query GetIssue($id: String!) {{ issue(id: $id) {{ {_ISSUE_FIELDS} }} }}"
_COMMENT_FIELDS = "id body url createdAt user { name } issue { id identifier }"
COMMENT_BY_ID = f"query CommentById($id: ID!) {{ comments(filter: {{id: {{eq: $id}}}}) {{ nodes {{ {_COMMENT_FIELDS} }} }} }}"  # noqa: E501
COMMENT_CREATE = f"""mutation CommentCreate($input: CommentCreateInput!) {{
  commentCreate(input: $input) {{ success comment {{ {_COMMENT_FIELDS} }} }}
}}"""
SEARCH_ISSUES = f"""query SearchIssues($filter: IssueFilter, $first: Int) {{
  issues(filter: $filter, first: $first, orderBy: updatedAt) {{ nodes {{ {_ISSUE_FIELDS} }} }}
}}"""


def _issue(node: dict[str, Any]) -> Issue:
    return Issue(
        id=node["id"],
        identifier=node["identifier"],
        title=node["title"],
        url=node["url"],
        priority=node.get("priority"),
        priority_label=node.get("priorityLabel"),
        state=(node.get("state") or {}).get("name"),
        team_key=(node.get("team") or {}).get("key"),
        assignee=(node.get("assignee") or {}).get("name"),
        description=node.get("description"),
        created_at=node.get("createdAt"),
        updated_at=node.get("updatedAt"),
    )


def _comment(node: dict[str, Any]) -> Comment:
    issue = node.get("issue") or {}
    return Comment(
        id=node["id"],
        body=node["body"],
        url=node["url"],
        issue_id=issue.get("id"),
        issue_identifier=issue.get("identifier"),
        user=(node.get("user") or {}).get("name"),
        created_at=node.get("createdAt"),
    )


def _derived_id(namespace: uuid.UUID, idempotency_key: str) -> str:
    # Linear: "The identifier in UUID v4 format". A name-based UUID is stable across retries;
    # its version bits are then set to 4 so that it has the form Linear validates.
    derived = uuid.uuid5(namespace, idempotency_key)
    return str(uuid.UUID(bytes=derived.bytes, version=4))


def _issue_id(idempotency_key: str) -> str:
    return _derived_id(_ID_NAMESPACE, idempotency_key)


def _comment_id(idempotency_key: str) -> str:
    return _derived_id(_COMMENT_NAMESPACE, idempotency_key)


async def _team_id(ctx: ToolContext, team: str) -> str:
    if _UUID.fullmatch(team):
        return team
    data = await client.graphql(ctx, TEAM_BY_KEY, {"key": team.upper()}, idempotent=True)
    nodes = (data.get("teams") or {}).get("nodes") or []
    if not nodes:
        raise PermanentError(f"Linear: no team with key {team.upper()}")
    return str(nodes[0]["id"])


async def create_issue(ctx: ToolContext, data: CreateIssueInput) -> IssueOutput:
    team_id = await _team_id(ctx, data.team)
    fields: dict[str, Any] = {"teamId": team_id, "title": data.title, "priority": data.priority}
    if data.description:
        fields["description"] = data.description
    if ctx.idempotency_key:
        issue_id = _issue_id(ctx.idempotency_key)
        found = await client.graphql(ctx, ISSUE_BY_ID, {"id": issue_id}, idempotent=True)
        existing = (found.get("issues") or {}).get("nodes") or []
        if existing:
            return IssueOutput(issue=_issue(existing[0]))
        fields["id"] = issue_id
    result = await client.graphql(ctx, ISSUE_CREATE, {"input": fields}, idempotent=False)
    created = result.get("issueCreate") or {}
    if not created.get("success") or not created.get("issue"):
        raise PermanentError("Linear did not create the issue")
    return IssueOutput(issue=_issue(created["issue"]))


async def get_issue(ctx: ToolContext, data: GetIssueInput) -> IssueOutput:
    result = await client.graphql(ctx, GET_ISSUE, {"id": data.issue}, idempotent=True)
    if not result.get("issue"):
        raise PermanentError(f"Linear: issue {data.issue} was not found")
    return IssueOutput(issue=_issue(result["issue"]))


async def search_issues(ctx: ToolContext, data: SearchIssuesInput) -> SearchIssuesOutput:
    issue_filter: dict[str, Any] = {"title": {"containsIgnoreCase": data.term}}
    if data.team:
        issue_filter["team"] = {"key": {"eq": data.team.upper()}}
    result = await client.graphql(
        ctx, SEARCH_ISSUES, {"filter": issue_filter, "first": data.limit}, idempotent=True
    )
    nodes = (result.get("issues") or {}).get("nodes") or []
    return SearchIssuesOutput(issues=[_issue(node) for node in nodes])


async def comment_on_issue(ctx: ToolContext, data: CommentOnIssueInput) -> CommentOutput:
    fields: dict[str, Any] = {"issueId": data.issue, "body": data.body}
    if ctx.idempotency_key:
        comment_id = _comment_id(ctx.idempotency_key)
        found = await client.graphql(ctx, COMMENT_BY_ID, {"id": comment_id}, idempotent=True)
        existing = (found.get("comments") or {}).get("nodes") or []
        if existing:
            return CommentOutput(comment=_comment(existing[0]))
        fields["id"] = comment_id
    result = await client.graphql(ctx, COMMENT_CREATE, {"input": fields}, idempotent=False)
    created = result.get("commentCreate") or {}
    if not created.get("success") or not created.get("comment"):
        raise PermanentError("Linear did not create the comment")
    return CommentOutput(comment=_comment(created["comment"]))


CREATE_ISSUE = Action(
    name="create_issue",
    title="Create Issue",
    input=CreateIssueInput,
    output=IssueOutput,
    idempotent=False,
    run=create_issue,
)
GET_ISSUE_ACTION = Action(
    name="get_issue",
    title="Get Issue",
    input=GetIssueInput,
    output=IssueOutput,
    idempotent=True,
    run=get_issue,
)
SEARCH_ISSUES_ACTION = Action(
    name="search_issues",
    title="Search Issues",
    input=SearchIssuesInput,
    output=SearchIssuesOutput,
    idempotent=True,
    run=search_issues,
)
COMMENT_ON_ISSUE = Action(
    name="comment_on_issue",
    title="Comment on Issue",
    input=CommentOnIssueInput,
    output=CommentOutput,
    idempotent=False,
    run=comment_on_issue,
)
