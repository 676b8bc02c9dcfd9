"""Datadog REST calls, authenticated with the `DD-API-KEY` and `DD-APPLICATION-KEY` headers
only (never query parameters, SEC-7), on the configured site's API host.

Every call here reads (the graph snapshot too: a GET whose only effect is a rendered image).
A refusal keeps the egress client's class (401/403 `CredentialError`, 429/5xx
`TransientError` with its retry hint, other 4xx `PermanentError`) and quotes Datadog's
`errors` list — scrubbed of both keys (SEC-5) — instead of a body excerpt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireline.core.errors import IntegrationError, TransientError
from fireline.integrations._upstream import error_body, error_status, safe_text, same_kind
from fireline.integrations.base import ToolContext
from fireline.integrations.datadog.schema import DatadogConfig, DatadogSecrets


def _keys(ctx: ToolContext) -> tuple[str, str]:
    secrets: DatadogSecrets = ctx.secrets
    return secrets.api_key.get_secret_value(), secrets.application_key.get_secret_value()


def _headers(ctx: ToolContext) -> dict[str, str]:
    api_key, application_key = _keys(ctx)
    return {
        "DD-API-KEY": api_key,
        "DD-APPLICATION-KEY": application_key,
        "Accept": "application/json",
    }


def _retry_after(exc: TransientError) -> float | None:
    if exc.retry_after is not None:
        return exc.retry_after
    # Datadog's 429 carries no Retry-After; `X-RateLimit-Reset` is the seconds until the
    # rate-limit period resets (docs.datadoghq.com/api/latest/rate-limits).
    response = getattr(exc, "response", None)
    reset = response.headers.get("x-ratelimit-reset", "") if response is not None else ""
    return float(reset) if reset.isdigit() else None


def _refusal(ctx: ToolContext, exc: IntegrationError, method: str, path: str) -> IntegrationError:
    message = str(exc)
    # Datadog's APIErrorResponse: {"errors": ["Monitor not found"]}.
    body = error_body(exc)
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors:
        text = safe_text("; ".join(str(error) for error in errors), *_keys(ctx))
        message = f"Datadog answered HTTP {error_status(exc)} to {method} {path}: {text}"
    if isinstance(exc, TransientError):
        return TransientError(
            message, retry_after=_retry_after(exc), outcome_unknown=exc.outcome_unknown
        )
    return same_kind(exc, message)


async def _call(
    ctx: ToolContext,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
) -> dict[str, Any]:
    config: DatadogConfig = ctx.config
    try:
        response = await ctx.http.request(
            method,
            config.api_url + path,
            idempotent=True,  # every call here reads
            headers=_headers(ctx),
            params=params,
            json=json,
        )
    except IntegrationError as exc:
        raise _refusal(ctx, exc, method, path) from None
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


async def get_monitor(ctx: ToolContext, monitor_id: int, params: dict[str, str]) -> dict[str, Any]:
    return await _call(ctx, "GET", f"/api/v1/monitor/{monitor_id}", params=params)


async def search_monitors(ctx: ToolContext, query: str, page: int, per_page: int) -> dict[str, Any]:
    return await _call(
        ctx,
        "GET",
        "/api/v1/monitor/search",
        params={"query": query, "page": page, "per_page": per_page},
    )


async def graph_snapshot(ctx: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
    return await _call(ctx, "GET", "/api/v1/graph/snapshot", params=params)
