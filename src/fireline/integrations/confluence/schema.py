from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fireline.integrations.base import ConnectionConfig, HttpsUrl


class ConfluenceConfig(ConnectionConfig):
    """The Confluence site chosen at connect time (from accessible-resources); empty until the
    callback. API calls go through api.atlassian.com/ex/confluence/{cloud_id}: the site URL
    only builds links for people, credentials never go to it."""

    cloud_id: str | None = Field(default=None, title="Cloud ID", pattern=r"^[A-Za-z0-9-]{1,64}$")
    site_url: HttpsUrl | None = Field(default=None, title="Site URL")
    site_name: str | None = Field(default=None, title="Site", max_length=255)


class SearchPagesInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cql: str = Field(
        title="CQL",
        description='Confluence Query Language, e.g. `type = page AND text ~ "runbook"`.',
        min_length=1,
        max_length=4000,
    )
    limit: int = Field(default=10, ge=1, le=100)


class PageHit(BaseModel):
    id: str | None
    title: str
    url: str
    excerpt: str
    space_key: str | None
    last_modified: str | None


class SearchPagesOutput(BaseModel):
    total_size: int
    results: list[PageHit]


class GetPageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page_id: str = Field(title="Page ID", pattern=r"^\d{1,20}$")
    body_format: Literal["storage", "view"] = Field(default="storage", title="Body Format")


class GetPageOutput(BaseModel):
    id: str
    title: str
    space_key: str | None
    version: int | None
    url: str
    body: str
