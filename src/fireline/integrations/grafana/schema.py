"""Grafana fields exactly as the product text lists them ("Default" is kept by the connections
package): URL (Self-hosted or Cloud) and Service Account Token."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets, HttpsUrl

# Alertmanager matcher syntax: label, operator (=, !=, =~, !~), quoted or bare value.
MATCHER = re.compile(
    r'^\s*[A-Za-z_][A-Za-z0-9_]*\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|[^"\s,{}]*)\s*$'
)


class GrafanaConfig(ConnectionConfig):
    url: HttpsUrl = Field(
        title="URL (Self-hosted or Cloud)",
        description="The URL of your Grafana instance, e.g. https://yourstack.grafana.net or "
        "https://grafana.example.com. The token is sent to this host only.",
    )


class GrafanaSecrets(ConnectionSecrets):
    service_account_token: SecretStr = Field(
        title="Service Account Token",
        description="The Grafana service account token (glsa_…), sent as a Bearer token.",
        min_length=1,
    )


class ListFiringAlertsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: list[str] = Field(
        default_factory=list,
        max_length=20,
        title="Label Matchers",
        description='Alertmanager matchers, e.g. severity="critical" or service=~"api|web".',
        examples=[['severity="critical"']],
    )
    receiver: str | None = Field(default=None, max_length=255, title="Receiver (regex)")
    include_silenced: bool = Field(default=False, title="Include Silenced")
    include_inhibited: bool = Field(default=False, title="Include Inhibited")

    @field_validator("filter")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        for matcher in value:
            if not MATCHER.match(matcher):
                raise ValueError(f'not a label matcher (label="value"): {matcher!r}')
        return [matcher.strip() for matcher in value]


class Alert(BaseModel):
    fingerprint: str
    state: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    updated_at: datetime | None
    generator_url: str | None
    silenced_by: list[str]
    inhibited_by: list[str]
    receivers: list[str]


class ListFiringAlertsOutput(BaseModel):
    alerts: list[Alert]
    count: int


class QueryLokiInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    datasource_uid: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", title="Loki Data Source UID"
    )
    query: str = Field(
        min_length=1,
        max_length=10_000,
        title="LogQL Query",
        examples=['{app="checkout"} |= "error"'],
    )
    start: datetime | None = Field(default=None, title="Start")
    end: datetime | None = Field(default=None, title="End")
    limit: int = Field(default=100, ge=1, le=5_000, title="Limit")
    direction: Literal["backward", "forward"] = Field(default="backward", title="Direction")

    @model_validator(mode="after")
    def _ordered(self) -> QueryLokiInput:
        if self.start and self.end and self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class LogLine(BaseModel):
    timestamp: datetime
    line: str
    labels: dict[str, str]


class QueryLokiOutput(BaseModel):
    lines: list[LogLine]
    count: int
