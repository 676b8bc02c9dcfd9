"""New Relic fields exactly as the product text lists them: Region, Account ID, API Key (a
User API key). The region is a closed set pinned to its NerdGraph host (NET-6)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets

REGION_HOSTS: dict[str, str] = {"US": "api.newrelic.com", "EU": "api.eu.newrelic.com"}


class NewRelicConfig(ConnectionConfig):
    region: Literal["US", "EU"] = Field(
        default="US", title="Region", description="Your New Relic account region."
    )
    # NerdGraph's `account(id: Int!)`: a positive 32-bit integer.
    account_id: int = Field(
        gt=0, lt=2**31, title="Account ID", description="Your New Relic Account ID."
    )

    @property
    def graphql_url(self) -> str:
        return f"https://{REGION_HOSTS[self.region]}/graphql"


class NewRelicSecrets(ConnectionSecrets):
    api_key: SecretStr = Field(
        title="API Key",
        description="Your New Relic User API Key (NRAK-…), sent in the `API-Key` header.",
        min_length=1,
    )


class RunNrqlInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        title="NRQL Query",
        min_length=1,
        max_length=4_000,
        examples=["SELECT count(*) FROM TransactionError SINCE 30 minutes ago"],
    )
    timeout_seconds: int = Field(default=30, ge=5, le=120, title="Timeout (seconds)")


class RunNrqlOutput(BaseModel):
    results: list[dict[str, Any]]
    count: int
