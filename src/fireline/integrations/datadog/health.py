"""Verification: `GET /api/v2/validate_keys` — Datadog's read-only probe that both the API key
and the application key are valid (401/403 otherwise). Nothing is created upstream."""

from __future__ import annotations

from fireline.core.errors import PermanentError
from fireline.integrations.base import ToolContext
from fireline.integrations.datadog import client
from fireline.integrations.datadog.schema import DatadogConfig


async def verify(ctx: ToolContext) -> str:
    answer = await client.validate_keys(ctx)
    if answer.get("status") != "ok":
        raise PermanentError("Datadog did not confirm the keys")
    config: DatadogConfig = ctx.config
    return f"API key and application key are valid on Datadog {config.site}"
