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
