"""The integration framework: what one tool package declares and what it is given.

A package declares its configuration and secret fields (exactly as the product text lists
them), the hosts its credentials may go to (NET-6: pinned in code, derived from the
configuration), a read-only verification probe, and its actions. It never builds its own HTTP
client: it receives a `ToolContext` whose `http` is the guarded egress client, bound to the
connection's allowed hosts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr

SECRET_PLACEHOLDER = "********"


class ConnectionConfig(BaseModel):
    """Non-secret fields: stored in clear, returned on read."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ConnectionSecrets(BaseModel):
    """Write-only fields: sealed, never returned (SEC-1, SEC-2). Every field is a SecretStr."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoConfig(ConnectionConfig):
    pass


class OAuthSecrets(ConnectionSecrets):
    """What an OAuth connect flow stores; refreshed by the connections package."""

    access_token: SecretStr
    refresh_token: SecretStr | None = None
    expires_at: float | None = None  # epoch seconds


class NoSecrets(ConnectionSecrets):
    pass


def _https_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ValueError("must not contain a query string or fragment")
    return value.strip().rstrip("/")


HttpsUrl = Annotated[str, AfterValidator(_https_url)]


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def port_of(url: str) -> int:
    return urlsplit(url).port or 443


class HttpClient(Protocol):
    """The guarded egress client, as integrations see it."""

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        idempotent: bool,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response: ...


@dataclass(frozen=True)
class ToolContext:
    connection_id: str
    config: Any
    secrets: Any
    http: HttpClient
    # WF-5: `run_id:step_id`, stable across retries; passed to tools that accept one.
    idempotency_key: str | None = None
    # AWS-1: the server-generated external ID of this connection (AWS only).
    external_id: str | None = None
    # `FIRELINE_<TOOL>_*_URL` endpoint overrides (tests point tools at local fakes). These are
    # server settings, never connection input (SEC-6).
    endpoints: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    name: str
    title: str
    input: type[BaseModel]
    output: type[BaseModel]
    idempotent: bool
    run: Callable[[ToolContext, Any], Awaitable[BaseModel]]


@dataclass(frozen=True)
class Destination:
    """Where a connection's credentials may be sent (NET-1, NET-6)."""

    hosts: tuple[str, ...]
    ports: tuple[int, ...] = (443,)


AuthKind = Literal["form", "oauth", "aws_role"]


@dataclass(frozen=True)
class OAuthTokens:
    access_token: str
    refresh_token: str | None
    expires_in: int | None  # seconds; None when the token does not expire
    # Non-secret facts learned at connect time (workspace, site, tenant): stored as config.
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OAuthProvider:
    """A provider's OAuth 2.0 authorization-code flow, for the connect and refresh flows.

    Endpoints are overridable for tests by `FIRELINE_<PREFIX>_AUTHORIZE_URL` and
    `FIRELINE_<PREFIX>_TOKEN_URL`; the app's client credentials come from
    `FIRELINE_<PREFIX>_CLIENT_ID` and `FIRELINE_<PREFIX>_CLIENT_SECRET`.
    """

    setting_prefix: str  # e.g. "SLACK"
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    pkce: bool
    scope_separator: str = " "
    scope_param: str = "scope"
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    # Turns the provider's token-endpoint JSON into tokens; raises CredentialError on refusal.
    # Called whatever the HTTP status: some providers refuse with 200, others with 4xx.
    parse_tokens: Callable[[Mapping[str, Any]], OAuthTokens] | None = None
    # Non-secret facts (workspace, site, tenant) read with fresh tokens after connecting.
    connect_details: Callable[[ToolContext], Awaitable[Mapping[str, Any]]] | None = None
    # When the grant covers several resources (Confluence: sites) and the connection has not
    # chosen one: (id, label) of each, for the user to pick; empty when nothing is to choose.
    choices: Callable[[ToolContext], Awaitable[list[tuple[str, str]]]] | None = None
    # The configuration details of the chosen resource.
    choose: Callable[[ToolContext, str], Awaitable[Mapping[str, Any]]] | None = None
    # Atlassian documents a JSON token request; the others take a form.
    token_body: Literal["form", "json"] = "form"
    # Microsoft's v2.0 endpoint requires `scope` on refresh requests too.
    refresh_sends_scope: bool = False


@dataclass(frozen=True)
class Integration:
    slug: str  # stored in the database: never renamed
    title: str
    description: str
    config: type[ConnectionConfig]
    secrets: type[ConnectionSecrets]
    destination: Callable[[Any], Destination]
    verify: Callable[[ToolContext], Awaitable[str]]  # read-only probe; returns a health message
    auth: AuthKind = "form"
    # The text says a failing check stops the save (Elasticsearch, ServiceNow, Dynatrace).
    verify_blocks_save: bool = False
    # SEC-3: changing any of these configuration fields requires the secrets again.
    credential_fields: tuple[str, ...] = ()
    actions: tuple[Action, ...] = field(default=())
    oauth: OAuthProvider | None = None

    def action(self, name: str) -> Action | None:
        return next((action for action in self.actions if action.name == name), None)
