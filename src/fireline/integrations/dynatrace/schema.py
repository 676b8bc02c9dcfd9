"""Dynatrace fields exactly as the product text lists them ("Default" is kept by the
connections package). The Environment URL must match the Environment Type's form."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets, HttpsUrl

# SaaS: https://{environment-id}.live.dynatrace.com (classic) or .apps.dynatrace.com (platform).
_SAAS_HOST = re.compile(r"^(?P<env>[a-z0-9][a-z0-9-]{2,62})\.(?:live|apps)\.dynatrace\.com$")
# Managed/ActiveGate: https://{activegate-domain}:9999/e/{environment-id}
_MANAGED_PATH = re.compile(r"^/e/(?P<env>[A-Za-z0-9][A-Za-z0-9-]{2,62})$")
_MANAGED_PORTS = (443, 9999)
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ACCOUNT_URN = "urn:dtaccount:"


class DynatraceConfig(ConnectionConfig):
    environment_type: Literal["saas", "managed"] = Field(
        title="Environment Type",
        description="SaaS or Managed/ActiveGate (on-premises or managed with ActiveGate).",
        json_schema_extra={"enum_titles": ["SaaS", "Managed/ActiveGate"]},
    )
    environment_url: HttpsUrl = Field(
        title="Environment URL",
        description="SaaS: https://{your-environment-id}.live.dynatrace.com. Managed/ActiveGate: "
        "https://{your-activegate-domain}:9999/e/{your-environment-id}. Use HTTPS.",
        # Forms show the one form of URL that the chosen environment type takes.
        json_schema_extra={"hint_by": {"environment_type": {
            "saas": "SaaS: https://{your-environment-id}.live.dynatrace.com",
            "managed": "Managed/ActiveGate: "
                       "https://{your-activegate-domain}:9999/e/{your-environment-id}"}}},
    )
    oauth2_account_uuid: str | None = Field(
        default=None,
        title="OAuth2 Account UUID (optional)",
        description="Your Dynatrace account UUID for resource scoping when requesting tokens: "
        "the raw UUID or a value prefixed with urn:dtaccount:.",
    )

    @field_validator("oauth2_account_uuid")
    @classmethod
    def _normalize_account(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        raw = value.strip().lower()
        raw = raw.removeprefix(_ACCOUNT_URN)
        if not _UUID.match(raw):
            raise ValueError("must be a UUID, optionally prefixed with urn:dtaccount:")
        return raw

    @model_validator(mode="after")
    def _url_matches_type(self) -> DynatraceConfig:
        parts = urlsplit(self.environment_url)
        host = (parts.hostname or "").lower()
        if self.environment_type == "saas":
            if not _SAAS_HOST.match(host) or parts.port not in (None, 443) or parts.path:
                raise ValueError(
                    "a SaaS Environment URL has the form "
                    "https://{your-environment-id}.live.dynatrace.com"
                )
        else:
            if _SAAS_HOST.match(host) or not _MANAGED_PATH.match(parts.path):
                raise ValueError(
                    "a Managed/ActiveGate Environment URL has the form "
                    "https://{your-activegate-domain}:9999/e/{your-environment-id}"
                )
            if (parts.port or 443) not in _MANAGED_PORTS:
                raise ValueError("a Managed/ActiveGate Environment URL uses port 443 or 9999")
        return self

    @property
    def account_urn(self) -> str | None:
        return f"{_ACCOUNT_URN}{self.oauth2_account_uuid}" if self.oauth2_account_uuid else None

    @property
    def platform_url(self) -> str:
        """Where the Grail query API lives: SaaS platform APIs are served on
        `{environment-id}.apps.dynatrace.com`, Managed on the environment URL itself."""
        if self.environment_type == "saas":
            match = _SAAS_HOST.match((urlsplit(self.environment_url).hostname or "").lower())
            assert match is not None  # checked by the validator
            return f"https://{match['env']}.apps.dynatrace.com"
        return self.environment_url


class DynatraceSecrets(ConnectionSecrets):
    oauth2_client_id: SecretStr = Field(
        title="OAuth2 Client ID",
        description="The OAuth2 client ID from Dynatrace account settings (client credentials "
        "flow).",
        min_length=1,
    )
    oauth_client_secret: SecretStr = Field(
        title="OAuth Client Secret",
        description="The OAuth2 client secret paired with the client ID.",
        min_length=1,
    )


class SearchLogsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        title="DQL Query",
        min_length=1,
        max_length=20_000,
        examples=['fetch logs | filter loglevel == "ERROR"'],
    )
    timeframe_start: datetime | None = Field(default=None, title="Timeframe Start")
    timeframe_end: datetime | None = Field(default=None, title="Timeframe End")
    max_records: int = Field(default=100, ge=1, le=10_000, title="Max Records")

    @model_validator(mode="after")
    def _ordered(self) -> SearchLogsInput:
        start, end = self.timeframe_start, self.timeframe_end
        if start and end and start > end:
            raise ValueError("timeframe_start must be before timeframe_end")
        return self


class SearchLogsOutput(BaseModel):
    records: list[dict[str, Any]]
    record_count: int
    state: str
