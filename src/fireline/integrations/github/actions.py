"""GitHub actions: Recent Commits (`GET /repos/{owner}/{repo}/commits`, Link-paginated up to a
limit), Create Issue (`POST /repos/{owner}/{repo}/issues`) and List Recent Deployments
(`GET /repos/{owner}/{repo}/deployments`, one page, then for each deployment its newest status
from `GET .../deployments/{id}/statuses?per_page=1`; GitHub lists both newest first)."""

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
    Deployment,
    DeploymentStatus,
    ListDeploymentsInput,
    ListDeploymentsOutput,
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


def _login(item: dict[str, Any]) -> str | None:
    login = (item.get("creator") or {}).get("login")
    return str(login) if login is not None else None


def _status(item: dict[str, Any]) -> DeploymentStatus:
    return DeploymentStatus(
        state=item["state"],
        description=item.get("description") or None,
        environment_url=item.get("environment_url") or None,
        log_url=item.get("log_url") or item.get("target_url") or None,
        created_at=item.get("created_at"),
        creator_login=_login(item),
    )


async def list_deployments(ctx: ToolContext, data: ListDeploymentsInput) -> ListDeploymentsOutput:
    params: dict[str, Any] = {"per_page": data.limit}
    if data.environment is not None:
        params["environment"] = data.environment
    path = client.repo_path(data.owner, data.repo) + "/deployments"
    items = (await client.get(ctx, path, params)).json()[: data.limit]
    deployments: list[Deployment] = []
    for item in items:
        status = None
        if data.include_status:
            url = f"{path}/{int(item['id'])}/statuses"
            latest = (await client.get(ctx, url, {"per_page": 1})).json()
            status = _status(latest[0]) if latest else None
        deployments.append(
            Deployment(
                id=item["id"],
                sha=item["sha"],
                ref=item["ref"],
                task=item.get("task"),
                environment=item.get("environment"),
                description=item.get("description") or None,
                creator_login=_login(item),
                created_at=item.get("created_at"),
                updated_at=item.get("updated_at"),
                status=status,
            )
        )
    return ListDeploymentsOutput(deployments=deployments)


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

LIST_DEPLOYMENTS = Action(
    name="list_deployments",
    title="List Recent Deployments",
    input=ListDeploymentsInput,
    output=ListDeploymentsOutput,
    idempotent=True,
    run=list_deployments,
)
