from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets


class LinearConfig(ConnectionConfig):
    pass


class LinearSecrets(ConnectionSecrets):
    api_key: SecretStr = Field(
        title="API Key",
        description="Your Linear API key (personal API key, sent as `Authorization: <key>`).",
        min_length=1,
    )


class Issue(BaseModel):
    id: str
    identifier: str
    title: str
    url: str
    priority: int | None = None
    priority_label: str | None = None
    state: str | None = None
    team_key: str | None = None
    assignee: str | None = None
    description: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


# Linear priorities: 0 No priority, 1 Urgent, 2 High, 3 Medium, 4 Low.
Priority = Literal[0, 1, 2, 3, 4]


class CreateIssueInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        title="Team",
        description="The team's ID (UUID) or key (e.g. ENG).",
    )
    title: str = Field(min_length=1, max_length=255, title="Title")
    description: str | None = Field(
        default=None, max_length=100_000, title="Description", description="Markdown."
    )
    priority: Priority = Field(
        default=0, title="Priority", description="0 none, 1 urgent, 2 high, 3 medium, 4 low."
    )


class GetIssueInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issue: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$",
        title="Issue",
        description="The issue identifier (e.g. ENG-123) or ID.",
    )


class SearchIssuesInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    term: str = Field(min_length=1, max_length=255, title="Search Term")
    team: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        title="Team Key",
    )
    limit: int = Field(default=20, ge=1, le=100, title="Limit")


class Comment(BaseModel):
    id: str
    body: str
    url: str
    issue_id: str | None = None
    issue_identifier: str | None = None
    user: str | None = None
    created_at: str | None = None


class CommentOnIssueInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issue: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$",
        title="Issue",
        description="The issue identifier (e.g. ENG-123) or ID.",
    )
    body: str = Field(min_length=1, max_length=100_000, title="Comment", description="Markdown.")


class IssueOutput(BaseModel):
    issue: Issue


class CommentOutput(BaseModel):
    comment: Comment


class SearchIssuesOutput(BaseModel):
    issues: list[Issue]
