"""Linear actions: Create Issue (`issueCreate`), Get Issue (`issue(id:)`, which takes an ID
or an identifier such as ENG-123) and Search Issues (`issues(filter:)`, title contains).

WF-5: `issueCreate` accepts a client-chosen issue `id`. Create Issue derives it from the run's
idempotency key (a name-based UUID in v4 form), looks it up first, and returns the existing
issue instead of creating a second one when a retried step already succeeded.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.linear import client
from fireline.integrations.linear.schema import (
    CreateIssueInput,
    GetIssueInput,
    Issue,
    IssueOutput,
    SearchIssuesInput,
    SearchIssuesOutput,
)

# Namespace for issue IDs derived from idempotency keys (a fixed, random UUID).
_ID_NAMESPACE = uuid.UUID("7c0e1a52-5b8e-4d3f-9a51-3f7f0a6c2d10")
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


def _issue_id(idempotency_key: str) -> str:
    # Linear: "The identifier in UUID v4 format". A name-based UUID is stable across retries;
    # its version bits are then set to 4 so that it has the form Linear validates.
    derived = uuid.uuid5(_ID_NAMESPACE, idempotency_key)
    return str(uuid.UUID(bytes=derived.bytes, version=4))


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
