"""OAuth connect flows for Slack, GitHub, Confluence and Microsoft Entra ID (Fireline as the
OAuth *client*).

Add → the connection is stored as `pending` → the browser goes to the provider's authorize
URL with `state` (bound to the signed-in user, single-use, 10 minutes — RFC 6749 §10.12) and
PKCE S256 where the provider supports it (RFC 7636) → the callback exchanges the code, seals
the tokens, and the connection is `connected`. Refresh lives in `tokens`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import delete, select

from fireline.accounts.tokens import digest
from fireline.connections import tokens
from fireline.connections.access import Verb
from fireline.connections.models import Connection, OAuthClientState
from fireline.connections.service import Actor, config_json, get_visible, validate_config
from fireline.connections.tools import Tools
from fireline.core.clock import utcnow
from fireline.core.db import Database
from fireline.core.errors import (
    AccessDeniedError,
    IntegrationError,
    InvalidInputError,
)
from fireline.core.logging import get_logger
from fireline.integrations.base import Integration, ToolContext
from fireline.vault.sealing import Place

log = get_logger("fireline.connections.oauth")

STATE_LIFETIME = timedelta(minutes=10)


def callback_url(tools: Tools, integration: Integration) -> str:
    return f"{tools.settings.base_url}/integrations/oauth/callback/{integration.slug}"


def _verifier_place(connection_id: str, state_id: str) -> Place:
    # Sealed under the connection's own data key, so bound to that connection's row.
    return Place(table="connections", row_id=connection_id, field=f"oauth_verifier:{state_id}")


async def start(
    *, db: Database, tools: Tools, actor: Actor, integration: Integration, connection_id: str
) -> str:
    """Returns the provider's authorization URL for connecting (or reconnecting)."""
    provider = tokens.provider_of(integration)
    client_id, _ = tokens.client_credentials(tools, integration)
    state = secrets.token_urlsafe(32)
    params = {
        "client_id": client_id,
        "redirect_uri": callback_url(tools, integration),
        "response_type": "code",
        "state": state,
        **provider.extra_authorize_params,
    }
    if provider.scopes:
        params[provider.scope_param] = provider.scope_separator.join(provider.scopes)
    async with db.transaction() as session:
        loaded = await get_visible(
            session=session,
            actor=actor,
            integration_slug=integration.slug,
            connection_id=connection_id,
            verb=Verb.EDIT,
        )
        pending = OAuthClientState(
            state_hash=digest(state),
            connection_id=connection_id,
            user_id=actor.principal.user.id,
            expires_at=utcnow() + STATE_LIFETIME,
        )
        session.add(pending)
        await session.flush()
        if provider.pkce:  # RFC 7636 §4.1-4.2: S256 only
            verifier = secrets.token_urlsafe(64)
            pending.code_verifier_blob = tools.vault.seal(
                verifier.encode(),
                wrapped_key=loaded.connection.data_key,
                place=_verifier_place(connection_id, pending.id),
            )
            challenge = hashlib.sha256(verifier.encode()).digest()
            params["code_challenge"] = base64.urlsafe_b64encode(challenge).decode().rstrip("=")
            params["code_challenge_method"] = "S256"
        actor.audit(session, "connection.oauth_start", connection_id)
    authorize = tokens.endpoint(tools, provider, "AUTHORIZE", provider.authorize_url)
    return f"{authorize}?{urlencode(params)}"


async def complete(
    *,
    db: Database,
    tools: Tools,
    actor: Actor,
    integration: Integration,
    state: str,
    code: str | None,
    error: str | None,
) -> Connection:
    """The callback: checks `state`, exchanges the code, seals the tokens, verifies."""
    provider = tokens.provider_of(integration)
    async with db.transaction() as session:
        pending = await session.scalar(
            select(OAuthClientState).where(OAuthClientState.state_hash == digest(state))
        )
        if pending is not None:  # single use, whatever happens next
            await session.execute(delete(OAuthClientState).where(OAuthClientState.id == pending.id))
    if pending is None or pending.expires_at < utcnow():
        raise InvalidInputError(
            "This authorization link is unknown or has expired: start connecting again"
        )
    if pending.user_id != actor.principal.user.id:
        raise AccessDeniedError("This authorization was started by another user")
    async with db.session() as session:
        loaded = await get_visible(
            session=session,
            actor=actor,
            integration_slug=integration.slug,
            connection_id=pending.connection_id,
            verb=Verb.EDIT,
        )
    connection = loaded.connection
    if error or not code:
        async with db.transaction() as session:
            actor.audit(
                session,
                "connection.oauth_callback",
                connection.id,
                outcome="failure",
                details={"error": error or "no code"},
            )
        raise InvalidInputError(
            f"{integration.title} authorization was not granted ({error or 'no code'})"
        )
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": callback_url(tools, integration),
    }
    if pending.code_verifier_blob is not None:
        form["code_verifier"] = tools.vault.unseal(
            pending.code_verifier_blob,
            wrapped_key=connection.data_key,
            place=_verifier_place(connection.id, pending.id),
        ).decode()
    token_answer = await tokens.token_request(tools, integration, form)
    values = tokens.secret_values(token_answer, previous_refresh=None)
    details = dict(token_answer.details)
    if provider.connect_details is not None:
        try:
            async with _context(tools, integration, connection, values) as ctx:
                details.update(await provider.connect_details(ctx))
        except IntegrationError as exc:  # the tokens are good; the details can wait
            log.warning("oauth_details_failed", connection_id=connection.id, error=str(exc))
    async with db.transaction() as session:
        stored = await session.get(Connection, connection.id)
        if stored is None:
            raise InvalidInputError("The connection was deleted while connecting")
        merged = {
            **stored.configuration,
            **{key: value for key, value in details.items() if value is not None},
        }
        stored.configuration = config_json(validate_config(integration, merged))
        tools.seal_secrets(stored, values)
        stored.oauth_state = tokens.CONNECTED
        stored.updated_by_id = actor.principal.user.id
        stored.updated_at = utcnow()
        actor.audit(
            session,
            "connection.oauth_callback",
            connection.id,
            details={"configuration": sorted(details)},
        )
    return stored


def _context(tools: Tools, integration: Integration, connection: Connection,
             values: dict[str, str]) -> AbstractAsyncContextManager[ToolContext]:
    return tools.context(
        integration,
        connection_id=connection.id,
        config=validate_config(integration, connection.configuration),
        secrets=integration.secrets.model_validate(values),
        external_id=None,
        allow_private=(),
    )


async def choices(
    *, db: Database, tools: Tools, actor: Actor, integration: Integration, connection_id: str
) -> list[tuple[str, str]]:
    """What the user still has to choose among the granted resources (Confluence: the site),
    asked of the provider with the connection's tokens; empty when nothing is to choose."""
    provider = tokens.provider_of(integration)
    async with db.session() as session:
        loaded = await get_visible(session=session, actor=actor,
                                   integration_slug=integration.slug,
                                   connection_id=connection_id, verb=Verb.EDIT)
    connection = loaded.connection
    if provider.choices is None or connection.oauth_state != tokens.CONNECTED:
        return []
    values = await tokens.current_secrets(db=db, tools=tools, integration=integration,
                                          connection=connection)
    async with _context(tools, integration, connection, values) as ctx:
        return await provider.choices(ctx)


async def choose(
    *, db: Database, tools: Tools, actor: Actor, integration: Integration, connection_id: str,
    choice: str,
) -> Connection:
    """Stores the chosen resource's details in the connection's configuration."""
    provider = tokens.provider_of(integration)
    if provider.choose is None:
        raise InvalidInputError(f"{integration.title} has nothing to choose")
    async with db.session() as session:
        loaded = await get_visible(session=session, actor=actor,
                                   integration_slug=integration.slug,
                                   connection_id=connection_id, verb=Verb.EDIT)
    values = await tokens.current_secrets(db=db, tools=tools, integration=integration,
                                          connection=loaded.connection)
    async with _context(tools, integration, loaded.connection, values) as ctx:
        try:
            details = dict(await provider.choose(ctx, choice))
        except IntegrationError as exc:
            raise InvalidInputError(str(exc)) from exc
    async with db.transaction() as session:
        stored = await session.get(Connection, connection_id)
        if stored is None:
            raise InvalidInputError("The connection was deleted meanwhile")
        stored.configuration = config_json(
            validate_config(integration, {**stored.configuration, **details}))
        stored.updated_by_id = actor.principal.user.id
        stored.updated_at = utcnow()
        actor.audit(session, "connection.oauth_choice", connection_id,
                    details={"configuration": sorted(details)})
    return stored
