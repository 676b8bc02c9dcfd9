"""Sumo Logic fields exactly as the product text lists them: Deployment (US1 default, US2, CA,
FED, EU, DE, AU, JP, IN), Access ID and Access Key. Each deployment is pinned to its API host
(NET-6; Sumo Logic "API Authentication, Endpoints, and Security")."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from fireline.core.clock import utcnow
from fireline.integrations.base import ConnectionConfig, ConnectionSecrets

DEPLOYMENT_HOSTS: dict[str, str] = {
    "US1": "api.sumologic.com",
    "US2": "api.us2.sumologic.com",
    "CA": "api.ca.sumologic.com",
    "FED": "api.fed.sumologic.com",
    "EU": "api.eu.sumologic.com",
    "DE": "api.de.sumologic.com",
    "AU": "api.au.sumologic.com",
    "JP": "api.jp.sumologic.com",
    "IN": "api.in.sumologic.com",
}


class SumoLogicConfig(ConnectionConfig):
    deployment: Literal["US1", "US2", "CA", "FED", "EU", "DE", "AU", "JP", "IN"] = Field(
        default="US1",
        title="Deployment",
        description="The Sumo Logic deployment region of your account. This determines which "
        "Sumo Logic API endpoint is used.",
    )

    @property
    def api_url(self) -> str:
        return f"https://{DEPLOYMENT_HOSTS[self.deployment]}"


class SumoLogicSecrets(ConnectionSecrets):
    access_id: SecretStr = Field(title="Access ID", min_length=1)
    access_key: SecretStr = Field(title="Access Key", min_length=1)


class SearchLogsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        min_length=1, max_length=20_000, title="Query", examples=["_sourceCategory=prod error"]
    )
    # Defaults: the 15 minutes before the step runs.
    from_time: datetime | None = Field(default=None, title="From")
    to_time: datetime | None = Field(default=None, title="To")
    by_receipt_time: bool = Field(default=False, title="By Receipt Time")
    limit: int = Field(default=100, ge=1, le=10_000, title="Limit")

    @model_validator(mode="after")
    def _ordered(self) -> SearchLogsInput:
        if self.from_time and self.to_time and self.from_time >= self.to_time:
            raise ValueError("from_time must be before to_time")
        return self

    def window(self) -> tuple[datetime, datetime]:
        end = self.to_time or utcnow()
        return self.from_time or end - timedelta(minutes=15), end


class SearchLogsOutput(BaseModel):
    state: str
    message_count: int
    messages: list[dict[str, Any]]
    record_count: int
    records: list[dict[str, Any]]
