"""OAuth tokens of connections: the token endpoint, and refresh before expiry.

Refresh happens when tokens are within a minute of expiry — one refresh at a time per
connection (an in-process lock plus the row lock of the transaction) — and the rotated refresh
token is committed before the new access token is used, so a crash can never leave only a
consumed refresh token behind. A refused refresh marks the connection `reconnect` and
Unhealthy ("Reconnect" in the UI starts the connect flow again).
"""

from __future__ import annotations

import asyncio
import time
import weakref

import httpx
from sqlalchemy import select

from fireline.connections.models import Connection
from fireline.connections.tools import Tools
from fireline.core.db import Database
from fireline.core.errors import CredentialError, IntegrationError, InvalidInputError
from fireline.core.redaction import register_secret
from fireline.egress.client import GuardedClient
from fireline.egress.policy import EgressPolicy
from fireline.integrations.base import Integration, OAuthProvider, OAuthTokens

REFRESH_MARGIN = 60.0  # seconds before expiry at which tokens are refreshed
PENDING, CONNECTED, RECONNECT = "pending", "connected", "reconnect"
clock = time.time
_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def provider_of(integration: Integration) -> OAuthProvider:
    if integration.oauth is None:
        raise InvalidInputError(f"{integration.title} does not connect through OAuth")
    return integration.oauth


def endpoint(tools: Tools, provider: OAuthProvider, kind: str, default: str) -> str:
    return tools.settings.provider_urls.get(
        f"FIRELINE_{provider.setting_prefix}_{kind}_URL", default
    )


def client_credentials(tools: Tools, integration: Integration) -> tuple[str, str]:
    provider = provider_of(integration)
    client = tools.settings.oauth_clients.get(provider.setting_prefix)
    if client is None:
        raise InvalidInputError(
            f"{integration.title} is not configured on this server: set "
            f"FIRELINE_{provider.setting_prefix}_CLIENT_ID and "
            f"FIRELINE_{provider.setting_prefix}_CLIENT_SECRET"
        )
    return client


def secret_values(tokens: OAuthTokens, *, previous_refresh: str | None) -> dict[str, str]:
    values = {"access_token": tokens.access_token}
    refresh = tokens.refresh_token or previous_refresh
    if refresh:
        values["refresh_token"] = refresh
    if tokens.expires_in is not None:
        values["expires_at"] = str(clock() + tokens.expires_in)
    for value in values.values():
        register_secret(value)
    return values


async def token_request(
    tools: Tools, integration: Integration, form: dict[str, str]
) -> OAuthTokens:
    provider = provider_of(integration)
    assert provider.parse_tokens is not None
    client_id, client_secret = client_credentials(tools, integration)
    body = {**form, "client_id": client_id, "client_secret": client_secret}
    url = httpx.URL(endpoint(tools, provider, "TOKEN", provider.token_url))
    policy = EgressPolicy.for_settings(
        tools.settings, allowed_hosts=(url.host,), allowed_ports=(url.port or 443,)
    )
    headers = {"Accept": "application/json"}
    async with GuardedClient.for_settings(tools.settings, policy, resolver=tools.resolver) as http:
        try:
            if provider.token_body == "json":
                response = await http.request(
                    "POST", url, idempotent=False, json=body, headers=headers
                )
            else:
                response = await http.request(
                    "POST", url, idempotent=False, data=body, headers=headers
                )
        except IntegrationError as exc:
            # Providers refuse with 4xx and a body that says why: the provider's parser reads
            # it and raises CredentialError with the provider's reason.
            if exc.response is None:
                raise
            try:
                refusal = exc.response.json()
            except ValueError:
                raise exc from None
            provider.parse_tokens(refusal)
            raise  # a refusal the parser did not recognise
    try:
        answer = response.json()
    except ValueError:
        raise CredentialError(
            f"{integration.title} answered the token request without JSON"
        ) from None
    return provider.parse_tokens(answer)


async def fresh_secrets(
    *, db: Database, tools: Tools, integration: Integration, connection_id: str
) -> dict[str, str]:
    """The connection's tokens, refreshed first when they are about to expire."""
    async with db.session() as session:
        connection = await session.get(Connection, connection_id)
        if connection is None:
            raise InvalidInputError("No such connection")
        values = tools.unseal_secrets(connection)
    if not _stale(values):
        return values
    lock = _locks.get(connection_id)
    if lock is None:
        lock = _locks[connection_id] = asyncio.Lock()
    async with lock:
        return await _refresh(
            db=db, tools=tools, integration=integration, connection_id=connection_id
        )


async def current_secrets(
    *, db: Database, tools: Tools, integration: Integration, connection: Connection
) -> dict[str, str]:
    """The secrets a call through `connection` uses: unsealed, and for an OAuth tool its
    tokens refreshed first when they are about to expire (checks and workflow steps alike)."""
    if integration.auth == "oauth":
        return await fresh_secrets(
            db=db, tools=tools, integration=integration, connection_id=connection.id
        )
    return tools.unseal_secrets(connection)


def _stale(values: dict[str, str]) -> bool:
    expires_at = values.get("expires_at")
    return expires_at is not None and float(expires_at) - clock() < REFRESH_MARGIN


async def _refresh(
    *, db: Database, tools: Tools, integration: Integration, connection_id: str
) -> dict[str, str]:
    provider = provider_of(integration)
    async with db.transaction() as session:
        # The row lock (SQLite: the write lock of BEGIN IMMEDIATE) makes nodes take turns.
        connection = await session.scalar(
            select(Connection).where(Connection.id == connection_id).with_for_update()
        )
        if connection is None:
            raise InvalidInputError("No such connection")
        values = tools.unseal_secrets(connection)
        if not _stale(values):
            return values  # another worker refreshed while we waited
        refresh_token = values.get("refresh_token")
        try:
            if not refresh_token:
                raise CredentialError(
                    f"The {integration.title} token expired and cannot be refreshed"
                )
            form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
            if provider.refresh_sends_scope and provider.scopes:
                form["scope"] = provider.scope_separator.join(provider.scopes)
            tokens = await token_request(tools, integration, form)
        except CredentialError as exc:
            # The caller records the health outcome; the state says "Reconnect" in the UI.
            connection.oauth_state = RECONNECT
            await session.commit()
            raise CredentialError(f"Reconnect required: {exc}") from exc
        fresh = secret_values(tokens, previous_refresh=refresh_token)
        tools.seal_secrets(connection, fresh)
        connection.oauth_state = CONNECTED
    return fresh
