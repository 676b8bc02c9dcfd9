from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets, HttpsUrl


class ElasticsearchConfig(ConnectionConfig):
    url: HttpsUrl = Field(
        title="Elasticsearch URL",
        description="The base URL of your Elasticsearch cluster, e.g. "
        "https://elasticsearch.example.com:9200. Credentials are sent to this host only.",
    )


class ElasticsearchSecrets(ConnectionSecrets):
    api_key: SecretStr = Field(
        title="API Key", description="Sent as `Authorization: ApiKey …`.", min_length=1
    )


class SearchLogsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index_pattern: str = Field(min_length=1, max_length=255, pattern=r"^[^\s/?#]+$")
    query_type: Literal["lucene", "kql", "dsl", "eql"] = "lucene"
    query: str = Field(min_length=1, max_length=10_000)
    size: int = Field(default=20, ge=1, le=1000)


class SearchLogsOutput(BaseModel):
    total: int
    hits: list[dict[str, Any]]
