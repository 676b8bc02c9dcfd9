"""Verification (reference text): request an OAuth2 access token from sso.dynatrace.com with
the client-credentials grant and the integration's scopes (plus `resource=urn:dtaccount:…`
when an account UUID is set). Nothing is created upstream; a refusal blocks the save."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.dynatrace import client
from fireline.integrations.dynatrace.schema import DynatraceConfig


async def verify(ctx: ToolContext) -> str:
    await client.access_token(ctx)
    config: DynatraceConfig = ctx.config
    scoped = " for the configured account" if config.oauth2_account_uuid else ""
    return f"Dynatrace SSO issued an access token{scoped} (scopes: {client.SCOPES})"
