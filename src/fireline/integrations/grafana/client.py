"""Grafana HTTP API calls on the configured instance, with `Authorization: Bearer <service
account token>` only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireline.integrations.base import ToolContext
from fireline.integrations.grafana.schema import GrafanaConfig, GrafanaSecrets


async def get(ctx: ToolContext, path: str, params: Mapping[str, Any] | None = None) -> Any:
    config: GrafanaConfig = ctx.config
    secrets: GrafanaSecrets = ctx.secrets
    response = await ctx.http.request(
        "GET",
        config.url + path,
        idempotent=True,
        headers={
            "Authorization": f"Bearer {secrets.service_account_token.get_secret_value()}",
            "Accept": "application/json",
        },
        params=params,
    )
    return response.json()
