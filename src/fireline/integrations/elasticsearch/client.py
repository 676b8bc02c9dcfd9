"""Elasticsearch REST calls, authenticated with `Authorization: ApiKey <key>` only."""

from __future__ import annotations

from typing import Any

from fireline.integrations.base import ToolContext
from fireline.integrations.elasticsearch.schema import ElasticsearchConfig, ElasticsearchSecrets


def _headers(ctx: ToolContext) -> dict[str, str]:
    secrets: ElasticsearchSecrets = ctx.secrets
    return {
        "Authorization": f"ApiKey {secrets.api_key.get_secret_value()}",
        "Accept": "application/json",
    }


def _url(ctx: ToolContext, path: str) -> str:
    config: ElasticsearchConfig = ctx.config
    return config.url + path


async def root(ctx: ToolContext) -> dict[str, Any]:
    response = await ctx.http.request("GET", _url(ctx, "/"), idempotent=True, headers=_headers(ctx))
    body: dict[str, Any] = response.json()
    return body


async def search(ctx: ToolContext, index_pattern: str, body: dict[str, Any]) -> dict[str, Any]:
    # Searches are reads: safe to retry.
    response = await ctx.http.request(
        "POST",
        _url(ctx, f"/{index_pattern}/_search"),
        idempotent=True,
        headers=_headers(ctx),
        json=body,
    )
    result: dict[str, Any] = response.json()
    return result


async def eql_search(ctx: ToolContext, index_pattern: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await ctx.http.request(
        "POST",
        _url(ctx, f"/{index_pattern}/_eql/search"),
        idempotent=True,
        headers=_headers(ctx),
        json=body,
    )
    result: dict[str, Any] = response.json()
    return result
