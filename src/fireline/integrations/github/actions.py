"""GitHub actions: Recent Commits (`GET /repos/{owner}/{repo}/commits`, Link-paginated up to a
limit) and Create Issue (`POST /repos/{owner}/{repo}/issues`)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.github import client
from fireline.integrations.github.schema import (
    Commit,
    CreateIssueInput,
    CreateIssueOutput,
    RecentCommitsInput,
    RecentCommitsOutput,
)

_PER_PAGE_MAX = 100


def _commit(item: dict[str, Any]) -> Commit:
    detail = item.get("commit") or {}
    author = detail.get("author") or {}
    return Commit(
        sha=item["sha"],
        message=detail.get("message", ""),
        author_name=author.get("name"),
        author_login=(item.get("author") or {}).get("login"),
        date=author.get("date"),
        html_url=item.get("html_url", ""),
    )


async def recent_commits(ctx: ToolContext, data: RecentCommitsInput) -> RecentCommitsOutput:
    params: dict[str, Any] = {"per_page": min(_PER_PAGE_MAX, data.limit)}
    if data.since is not None:
        # GitHub documents `YYYY-MM-DDTHH:MM:SSZ`.
        params["since"] = data.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if data.branch is not None:
        params["sha"] = data.branch
    commits: list[Commit] = []
    url: str | None = client.repo_path(data.owner, data.repo) + "/commits"
    query: dict[str, Any] | None = params
    while url is not None and len(commits) < data.limit:
        response = await client.get(ctx, url, query)
        query = None  # the `next` link already carries every query parameter
        commits.extend(_commit(item) for item in response.json())
        url = client.next_page(response)
    return RecentCommitsOutput(commits=commits[: data.limit])


async def create_issue(ctx: ToolContext, data: CreateIssueInput) -> CreateIssueOutput:
    body: dict[str, Any] = {"title": data.title}
    if data.body is not None:
        body["body"] = data.body
    if data.labels:
        body["labels"] = data.labels
    if data.assignees:
        body["assignees"] = data.assignees
    try:
        # GitHub takes no idempotency key: declared non-idempotent, never retried blindly.
        issue = await client.post(ctx, client.repo_path(data.owner, data.repo) + "/issues", body)
    except PermanentError as exc:
        raise PermanentError(
            f"GitHub could not create the issue in {data.owner}/{data.repo}: {exc}"
        ) from exc
    return CreateIssueOutput(
        id=issue["id"],
        number=issue["number"],
        title=issue["title"],
        state=issue["state"],
        html_url=issue["html_url"],
    )


RECENT_COMMITS = Action(
    name="recent_commits",
    title="Recent Commits",
    input=RecentCommitsInput,
    output=RecentCommitsOutput,
    idempotent=True,
    run=recent_commits,
)

CREATE_ISSUE = Action(
    name="create_issue",
    title="Create Issue",
    input=CreateIssueInput,
    output=CreateIssueOutput,
    idempotent=False,
    run=create_issue,
)
