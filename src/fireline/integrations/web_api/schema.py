from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import httpx
from pydantic import (
    BaseModel,
    BeforeValidator,
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


def _header_lines(value: Any) -> Any:
    # The product's Headers input is "one per line" (`Name: value`); a mapping is taken as is.
    if isinstance(value, str):
        return dict(parse_header_lines(value)) if value.strip() else {}
    return value


def _json_text(value: Any) -> Any:
    # A template renders to text: `{{ incident | tojson }}` is the incident as JSON text.
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc}); send text with text_body") from None


RequestUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=8192,
        title="Request URL",
        description="The https URL to send the request to, on one of the connection's allowed "
        "hostnames.",
    ),
]
ExtraHeaders = Annotated[
    dict[str, str],
    BeforeValidator(_header_lines),
    Field(
        default_factory=dict,
        title="Headers",
        description="Extra, non-secret headers, one per line (Name: value) or as a JSON object; "
        "they cannot override the connection's authentication headers.",
        json_schema_extra={"multiline": True},
    ),
]
TextBody = Annotated[
    str | None,
    Field(
        default=None,
        title="Text Body",
        description="A text body (instead of JSON).",
        json_schema_extra={"multiline": True},
    ),
]
JsonText = Annotated[Any, BeforeValidator(_json_text)]


def _one_body(json_body: Any, text_body: str | None) -> None:
    if json_body is not None and text_body is not None:
        raise ValueError("give either json_body or text_body, not both")


class HttpRequestInput(BaseModel):
    """One request with the method as an input: the original Web API action, kept for
    existing definitions."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: RequestUrl
    headers: ExtraHeaders
    # Any value is sent as JSON as it is, a string as a JSON string (unlike the per-method
    # actions, which read a string as JSON text).
    json_body: Any = Field(default=None, title="JSON Body", description="A JSON body.")
    text_body: TextBody

    @model_validator(mode="after")
    def _body(self) -> HttpRequestInput:
        _one_body(self.json_body, self.text_body)
        if self.method == "GET" and (self.json_body is not None or self.text_body is not None):
            raise ValueError("a GET request has no body")
        return self


class SendRequestInput(BaseModel):
    """GET, HEAD and DELETE: a URL and headers, no body."""

    model_config = ConfigDict(extra="forbid")

    url: RequestUrl
    headers: ExtraHeaders

    def request_body(self) -> tuple[Any, str | None]:
        """(JSON value, text): what the request carries."""
        return None, None


class SendBodyRequestInput(SendRequestInput):
    """POST, PUT and PATCH: a JSON or a text body."""

    json_body: JsonText = Field(
        default=None,
        title="JSON Body",
        description="A JSON body: a JSON value, or JSON text such as a template renders, e.g. "
        "{{ steps.lookup.output.json_body | tojson }}.",
        json_schema_extra={"multiline": True},
    )
    text_body: TextBody

    @model_validator(mode="after")
    def _body(self) -> SendBodyRequestInput:
        _one_body(self.json_body, self.text_body)
        return self

    def request_body(self) -> tuple[Any, str | None]:
        return self.json_body, self.text_body


INCIDENT_JSON = "{{ incident | tojson }}"


class SendWebhookPostInput(SendRequestInput):
    """Send Webhook POST: a JSON payload, sent as application/json."""

    # Required, with the incident template as the form's starting value: the engine renders
    # only the inputs a step gives, so an unrendered default could never be the incident.
    body: JsonText = Field(
        title="Body",
        description="The JSON to send: a JSON value, or JSON text such as a template renders. "
        f"The incident as JSON is {INCIDENT_JSON}.",
        json_schema_extra={"default": INCIDENT_JSON, "multiline": True},
    )

    def request_body(self) -> tuple[Any, str | None]:
        return self.body, None


class HttpRequestOutput(BaseModel):
    status_code: int
    headers: dict[str, str]
    body: str
    truncated: bool
    json_body: Any = None
