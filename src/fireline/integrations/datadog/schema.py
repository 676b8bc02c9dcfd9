"""Datadog fields: API Key and Application Key as the product text lists them, plus the site.

The text names no site, but NET-6 makes Datadog sites a closed set: each site is pinned to its
API host here, and US1 (the default) keeps the text's behaviour for accounts on app.datadoghq.com.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets

Site = Literal["US1", "US3", "US5", "EU1", "AP1", "AP2", "UK1", "US1-FED", "US2-FED"]

# docs.datadoghq.com "Getting Started with Datadog Sites": one API host per site.
SITE_HOSTS: dict[str, str] = {
    "US1": "api.datadoghq.com",
    "US3": "api.us3.datadoghq.com",
    "US5": "api.us5.datadoghq.com",
    "EU1": "api.datadoghq.eu",
    "AP1": "api.ap1.datadoghq.com",
    "AP2": "api.ap2.datadoghq.com",
    "UK1": "api.uk1.datadoghq.com",
    "US1-FED": "api.ddog-gov.com",
    "US2-FED": "api.us2.ddog-gov.com",
}


class DatadogConfig(ConnectionConfig):
    site: Site = Field(
        default="US1",
        title="Site",
        description="The Datadog site of your account (US1 is app.datadoghq.com, EU1 is "
        "app.datadoghq.eu, ...). Credentials are sent to that site's API host only.",
    )

    @property
    def api_url(self) -> str:
        return f"https://{SITE_HOSTS[self.site]}"


class DatadogSecrets(ConnectionSecrets):
    api_key: SecretStr = Field(
        title="API Key",
        description="Your Datadog API key (Organization Settings > Access > API Keys).",
        min_length=1,
    )
    application_key: SecretStr = Field(
        title="Application Key",
        description="Your Datadog application key (Personal Settings > Security > Application "
        "Keys, or Organization Settings > Access > Application Keys).",
        min_length=1,
    )


class SearchLogsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(default="*", min_length=1, max_length=10_000, title="Query")
    # Datadog date math is accepted as is: ISO 8601, epoch milliseconds, or `now-15m`.
    from_time: str = Field(default="now-15m", min_length=1, max_length=64, title="From")
    to_time: str = Field(default="now", min_length=1, max_length=64, title="To")
    indexes: list[str] | None = Field(default=None, title="Indexes")
    sort: Literal["timestamp", "-timestamp"] = Field(default="-timestamp", title="Sort")
    limit: int = Field(default=100, ge=1, le=5_000, title="Limit")
    cursor: str | None = Field(default=None, max_length=4_096, title="Cursor")


class SearchLogsOutput(BaseModel):
    logs: list[dict[str, Any]]
    count: int
    next_cursor: str | None


class QueryMetricsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=10_000, examples=["avg:system.cpu.user{*}"])
    from_time: datetime = Field(title="From")
    to_time: datetime = Field(title="To")

    @model_validator(mode="after")
    def _ordered(self) -> QueryMetricsInput:
        if self.from_time >= self.to_time:
            raise ValueError("from_time must be before to_time")
        return self


class MetricSeries(BaseModel):
    metric: str
    scope: str
    expression: str
    points: list[tuple[float, float | None]]  # (epoch milliseconds, value)


class QueryMetricsOutput(BaseModel):
    series: list[MetricSeries]
