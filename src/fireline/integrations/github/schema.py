from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from fireline.integrations.base import ConnectionConfig

# GitHub account names: alphanumerics and single hyphens, at most 39 characters.
_LOGIN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"
_REPO = r"^[A-Za-z0-9._-]{1,100}$"


class GitHubConfig(ConnectionConfig):
    """Learned at connect time (`GET /user`, `GET /user/installations`); empty until then."""

    login: str | None = Field(default=None, title="GitHub User", pattern=_LOGIN)
    organizations: tuple[str, ...] | None = Field(
        default=None,
        title="Organizations",
        description="The accounts the GitHub App was installed on and the user can reach.",
    )


class _Repository(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: str = Field(title="Owner", pattern=_LOGIN)
    repo: str = Field(title="Repository", pattern=_REPO)


class RecentCommitsInput(_Repository):
    since: AwareDatetime | None = Field(default=None, title="Since")
    branch: str | None = Field(
        default=None,
        title="Branch or SHA",
        min_length=1,
        max_length=255,
        pattern=r"^[^\s~^:?*\[\\]+$",
    )
    limit: int = Field(default=30, ge=1, le=1000)


class Commit(BaseModel):
    sha: str
    message: str
    author_name: str | None
    author_login: str | None
    date: str | None
    html_url: str


class RecentCommitsOutput(BaseModel):
    commits: list[Commit]


class CreateIssueInput(_Repository):
    title: str = Field(title="Title", min_length=1, max_length=256)
    body: str | None = Field(default=None, title="Body", max_length=65_536)
    labels: list[str] = Field(default_factory=list, max_length=100)
    assignees: list[str] = Field(default_factory=list, max_length=10)


class CreateIssueOutput(BaseModel):
    id: int
    number: int
    title: str
    state: str
    html_url: str


class ListDeploymentsInput(_Repository):
    environment: str | None = Field(
        default=None,
        title="Environment",
        description="Only deployments to this environment (e.g. production).",
        min_length=1,
        max_length=255,
        pattern=r"^[^\x00-\x1f]+$",
    )
    # One page (`per_page`): each deployment may cost one more call for its status.
    limit: int = Field(default=10, ge=1, le=30, title="Limit")
    include_status: bool = Field(
        default=True,
        title="Include Latest Status",
        description="Read each deployment's latest status (one more call per deployment).",
    )


class DeploymentStatus(BaseModel):
    state: str  # error, failure, inactive, in_progress, queued, pending or success
    description: str | None
    environment_url: str | None
    log_url: str | None
    created_at: str | None
    creator_login: str | None


class Deployment(BaseModel):
    id: int
    sha: str
    ref: str
    task: str | None
    environment: str | None
    description: str | None
    creator_login: str | None
    created_at: str | None
    updated_at: str | None
    # None: no status reported yet, or not asked for.
    status: DeploymentStatus | None


class ListDeploymentsOutput(BaseModel):
    deployments: list[Deployment]
