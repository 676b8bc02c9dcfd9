"""Verification: the connection's own Health Check URL with its Health Check Method (HEAD or
GET), carrying the authentication headers. Any 2xx or 3xx answer is healthy (redirects are
not followed, NET-4); 401/403 is a credential error."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.web_api import client
from fireline.integrations.web_api.schema import WebApiConfig


async def verify(ctx: ToolContext) -> str:
    config: WebApiConfig = ctx.config
    url = client.allowed_url(ctx, config.health_check_url)
    response = await client.send(ctx, config.health_check_method, url, idempotent=True)
    return f"{config.health_check_method} {url.host} answered {response.status_code}"
