"""Calls to one Azure Function. The key travels only in the `x-functions-key` header, never
as `?code=` (SEC-7), and only to the function app's own host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from fireline.integrations.azure_functions.schema import (
    AzureFunctionsConfig,
    AzureFunctionsSecrets,
)
from fireline.integrations.base import ToolContext


def headers(ctx: ToolContext) -> dict[str, str]:
    secrets: AzureFunctionsSecrets = ctx.secrets
    return {"x-functions-key": secrets.api_key.get_secret_value()}


async def call(
    ctx: ToolContext,
    method: str,
    *,
    idempotent: bool,
    extra: Mapping[str, str] | None = None,
    json: Any = None,
) -> httpx.Response:
    config: AzureFunctionsConfig = ctx.config
    return await ctx.http.request(
        method,
        config.url,
        idempotent=idempotent,
        headers={**(extra or {}), **headers(ctx)},
        json=json,
    )
