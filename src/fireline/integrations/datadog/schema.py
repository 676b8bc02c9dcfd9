"""Datadog fields: API Key and Application Key as the product text lists them, plus the site.

The text names no site, but NET-6 makes Datadog sites a closed set: each site is pinned to its
API host here, and US1 (the default) keeps the text's behaviour for accounts on app.datadoghq.com.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

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

    @property
    def app_url(self) -> str:
        # The site's web app: the API host without `api.`, and `app.` in front of the bare
        # domains (US1 app.datadoghq.com, EU1 app.datadoghq.eu, US1-FED app.ddog-gov.com).
        host = SITE_HOSTS[self.site].removeprefix("api.")
        return f"https://{host}" if host.count(".") > 1 else f"https://app.{host}"


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


GroupState = Literal["all", "alert", "warn", "no data"]


class GetMonitorInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monitor_id: int = Field(
        ge=1, title="Monitor ID", description="The monitor's numeric ID (in its URL).",
        examples=[12345678],
    )
    group_states: list[GroupState] = Field(
        default_factory=list,
        title="Group States",
        description="Also return the monitor's groups in these states, comma-separated: "
        "all, alert, warn, no data. None by default.",
    )
    with_downtimes: bool = Field(
        default=False,
        title="With Downtimes",
        description="Also return the active downtimes that match the monitor.",
    )

    @field_validator("group_states", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # A form field holds text: "alert, warn" means ["alert", "warn"], as Datadog takes it.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class MonitorGroup(BaseModel):
    name: str
    status: str | None = None
    # Epoch seconds, as Datadog reports them.
    last_triggered_ts: int | None = None
    last_notified_ts: int | None = None
    last_resolved_ts: int | None = None
    last_nodata_ts: int | None = None


class Monitor(BaseModel):
    id: int
    name: str
    type: str
    query: str
    message: str | None = None
    overall_state: str | None = None
    priority: int | None = None
    tags: list[str] = Field(default_factory=list)
    multi: bool | None = None
    created: str | None = None
    modified: str | None = None
    creator: str | None = None  # the creator's handle (email)
    url: str
    groups: list[MonitorGroup] = Field(default_factory=list)
    matching_downtimes: list[dict[str, Any]] = Field(default_factory=list)


class MonitorOutput(BaseModel):
    monitor: Monitor


class GetAlertingMonitorsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(
        default=None,
        max_length=1_000,
        title="Filter",
        description="More monitor search terms, ANDed with `status:alert`, e.g. "
        '`type:metric tag:"env:prod"` or words of the monitor name.',
    )
    limit: int = Field(default=100, ge=1, le=1_000, title="Limit")


class AlertingMonitor(BaseModel):
    id: int
    name: str
    type: str | None = None
    status: str | None = None
    query: str | None = None
    priority: int | None = None
    tags: list[str] = Field(default_factory=list)
    last_triggered_ts: int | None = None  # epoch seconds
    url: str


class GetAlertingMonitorsOutput(BaseModel):
    monitors: list[AlertingMonitor]
    count: int
    total_count: int  # every monitor in Alert matching the filter, beyond the limit too


class CreateGraphSnapshotInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric_query: str = Field(
        min_length=1, max_length=10_000, title="Metric Query",
        examples=["avg:system.cpu.user{service:checkout}"],
    )
    start: datetime | None = Field(
        default=None, title="Start", description="Default: one hour before End."
    )
    end: datetime | None = Field(default=None, title="End", description="Default: now.")
    event_query: str | None = Field(
        default=None, max_length=1_000, title="Event Query",
        description="Events to show as bands on the graph, e.g. `sources:deploy`.",
    )
    title: str | None = Field(default=None, max_length=200, title="Title")

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # A time without an offset is UTC, whatever the server's local zone.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> CreateGraphSnapshotInput:
        if self.start and self.end and self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class GraphSnapshotOutput(BaseModel):
    snapshot_url: str  # Datadog renders the image shortly after answering
    metric_query: str
    start: datetime
    end: datetime
