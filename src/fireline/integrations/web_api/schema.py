from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets
from fireline.integrations.web_api.headers import parse_header_lines
from fireline.integrations.web_api.hosts import check_url, parse_patterns

BODY_LIMIT = 64 * 1024


class WebApiConfig(ConnectionConfig):
    allowed_hostnames: str = Field(
        title="Allowed Hostnames",
        description="The hostnames to allow sending these credentials to, one per line. An "
        "asterisk may be used for subdomains, e.g. example.com, subdomain.example.com or "
        "*.example.com.",
        json_schema_extra={"multiline": True},
    )
    health_check_url: str = Field(
        title="Health Check URL",
        description="A URL to monitor the health of this connection (https, on an allowed "
        "hostname).",
    )
    health_check_method: Literal["HEAD", "GET"] = Field(
        default="GET",
        title="Health Check Method",
        description="Which HTTP method to use for the health check request, HEAD or GET.",
    )

    @field_validator("allowed_hostnames", mode="before")
    @classmethod
    def _normalize_hostnames(cls, value: Any) -> str:
        if not isinstance(value, str | list | tuple):
            raise ValueError("enter hostnames one per line")
        return "\n".join(parse_patterns(value))

    @model_validator(mode="after")
    def _health_url_on_allowed_host(self) -> WebApiConfig:
        # NET-1: the health check carries the credentials, so its host must be allowed too.
        try:
            url = httpx.URL(self.health_check_url)
            check_url(url, self.hostnames, self.ports)
        except (httpx.InvalidURL, ValueError) as exc:
            raise ValueError(f"Health Check URL: {exc}") from exc
        if url.fragment:
            raise ValueError("Health Check URL: must not contain a fragment")
        return self

    @property
    def hostnames(self) -> tuple[str, ...]:
        return tuple(self.allowed_hostnames.split("\n"))

    @property
    def ports(self) -> tuple[int, ...]:
        """443, plus the health check URL's explicit port."""
        try:
            port = httpx.URL(self.health_check_url).port
        except httpx.InvalidURL:
            port = None
        return (443,) if port is None or port == 443 else (443, port)


class WebApiSecrets(ConnectionSecrets):
    # The value is a secret: validation errors must not echo it.
    model_config = ConfigDict(hide_input_in_errors=True)

    authentication_headers: SecretStr = Field(
        title="Authentication Headers",
        description="The headers to include in Web API calls made with this connection, one "
        "per line, e.g. Authorization: Bearer XXXX.",
        json_schema_extra={"multiline": True},
    )

    @field_validator("authentication_headers")
    @classmethod
    def _valid_header_lines(cls, value: SecretStr) -> SecretStr:
        parse_header_lines(value.get_secret_value())
        return value

    def headers(self) -> tuple[tuple[str, str], ...]:
        return parse_header_lines(self.authentication_headers.get_secret_value())


class HttpRequestInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(min_length=1, max_length=8192, description="Must be on an allowed host.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra, non-secret headers; they cannot override the connection's.",
    )
    json_body: Any = Field(default=None, description="A JSON body.")
    text_body: str | None = Field(default=None, description="A text body (instead of JSON).")

    @model_validator(mode="after")
    def _one_body(self) -> HttpRequestInput:
        if self.json_body is not None and self.text_body is not None:
            raise ValueError("give either json_body or text_body, not both")
        if self.method == "GET" and (self.json_body is not None or self.text_body is not None):
            raise ValueError("a GET request has no body")
        return self


class HttpRequestOutput(BaseModel):
    status_code: int
    headers: dict[str, str]
    body: str
    truncated: bool
    json_body: Any = None
