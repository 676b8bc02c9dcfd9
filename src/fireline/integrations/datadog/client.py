"""Datadog REST calls, authenticated with the `DD-API-KEY` and `DD-APPLICATION-KEY` headers
only (never query parameters, SEC-7), on the configured site's API host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireline.integrations.base import ToolContext
from fireline.integrations.datadog.schema import DatadogConfig, DatadogSecrets


def _headers(ctx: ToolContext) -> dict[str, str]:
    secrets: DatadogSecrets = ctx.secrets
    return {
        "DD-API-KEY": secrets.api_key.get_secret_value(),
        "DD-APPLICATION-KEY": secrets.application_key.get_secret_value(),
        "Accept": "application/json",
    }


async def _call(
    ctx: ToolContext,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
) -> dict[str, Any]:
    config: DatadogConfig = ctx.config
    response = await ctx.http.request(
        method,
        config.api_url + path,
        idempotent=True,  # every call here reads
        headers=_headers(ctx),
        params=params,
        json=json,
    )
    body: dict[str, Any] = response.json()
    return body


async def validate_keys(ctx: ToolContext) -> dict[str, Any]:
    # GET /api/v2/validate_keys checks the API key AND the application key (v1/validate
    # checks only the API key).
    return await _call(ctx, "GET", "/api/v2/validate_keys")


async def search_logs(ctx: ToolContext, body: dict[str, Any]) -> dict[str, Any]:
    # A search is a POST that reads.
    return await _call(ctx, "POST", "/api/v2/logs/events/search", json=body)


async def query_metrics(ctx: ToolContext, query: str, start: int, end: int) -> dict[str, Any]:
    return await _call(
        ctx, "GET", "/api/v1/query", params={"from": start, "to": end, "query": query}
    )
