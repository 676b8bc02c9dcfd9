"""Logz.io fields exactly as the product text lists them: Region and API Token. Regions are a
closed set, each pinned to its API host (NET-6; docs.logz.io "Account region")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets

REGION_HOSTS: dict[str, str] = {
    "us": "api.logz.io",  # US East (Northern Virginia)
    "eu": "api-eu.logz.io",  # Europe (Frankfurt)
    "uk": "api-uk.logz.io",  # Europe (London)
    "au": "api-au.logz.io",  # Asia Pacific (Sydney)
    "ca": "api-ca.logz.io",  # Canada (Central)
    "nl": "api-nl.logz.io",  # West Europe (Netherlands, Azure)
    "wa": "api-wa.logz.io",  # West US 2 (Washington, Azure)
}


class LogzioConfig(ConnectionConfig):
    region: Literal["us", "eu", "uk", "au", "ca", "nl", "wa"] = Field(
        default="us",
        title="Region",
        description="Your Logz.io account region: the two-letter code in your Logz.io URL "
        "(app-eu.logz.io is eu; app.logz.io is us).",
    )

    @property
    def api_url(self) -> str:
        return f"https://{REGION_HOSTS[self.region]}"


class LogzioSecrets(ConnectionSecrets):
    api_token: SecretStr = Field(
        title="API Token",
        description="The Logz.io API token, sent in the `X-API-TOKEN` header.",
        min_length=1,
    )


class SearchLogsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query_type: Literal["lucene", "dsl"] = Field(default="lucene", title="Query Type")
    query: str = Field(
        default="*",
        min_length=1,
        max_length=10_000,
        title="Query",
        description="A Lucene query string, or an Elasticsearch Query DSL object as JSON.",
    )
    from_time: datetime | None = Field(default=None, title="From")
    to_time: datetime | None = Field(default=None, title="To")
    size: int = Field(default=50, ge=1, le=1_000, title="Size")

    @model_validator(mode="after")
    def _ordered(self) -> SearchLogsInput:
        if self.from_time and self.to_time and self.from_time > self.to_time:
            raise ValueError("from_time must be before to_time")
        return self


class SearchLogsOutput(BaseModel):
    total: int
    hits: list[dict[str, Any]]
