from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets, HttpsUrl

# Splunk time modifiers: `now`, relative (`-24h@h`, `-7d@w1`), epoch seconds or ISO 8601.
_TIME = re.compile(r"^[0-9A-Za-z@:+\-.]{1,40}$")


class SplunkConfig(ConnectionConfig):
    url: HttpsUrl = Field(
        title="Splunk URL",
        description="The base URL of your Splunk instance's REST API, including the port when "
        "your environment requires it (many deployments use 8089), e.g. "
        "https://splunk.example.com:8089.",
    )


class SplunkSecrets(ConnectionSecrets):
    model_config = ConfigDict(hide_input_in_errors=True)

    authentication_token: SecretStr = Field(
        title="Authentication Token",
        description="A Splunk authentication token (sent as `Authorization: Bearer …`) or a "
        "session key (sent as `Authorization: Splunk …`).",
    )

    @field_validator("authentication_token")
    @classmethod
    def _header_safe(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(r"(?:(?:Bearer|Splunk) )?[\x21-\x7e]+", value.get_secret_value()):
            raise ValueError("must be the token alone: printable characters, no spaces")
        return value


class SearchInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        min_length=1,
        max_length=10_000,
        description="SPL, e.g. `index=main error | head 20`; `search` is added when the query "
        "does not start with a command.",
    )
    earliest_time: str = Field(default="-1h", pattern=_TIME.pattern)
    latest_time: str = Field(default="now", pattern=_TIME.pattern)
    count: int = Field(default=100, ge=1, le=10_000)


class SearchOutput(BaseModel):
    count: int
    results: list[dict[str, Any]]
    messages: list[dict[str, Any]] = Field(default_factory=list)
