"""Web API calls: the connection's header lines go only to URLs on its allowed hostnames
(NET-1), parsed once and sent as that same object (NET-2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from fireline.core.errors import PermanentError
from fireline.core.redaction import REDACTED
from fireline.integrations.base import ToolContext
from fireline.integrations.web_api.hosts import check_url
from fireline.integrations.web_api.schema import WebApiConfig, WebApiSecrets


def auth_headers(ctx: ToolContext) -> dict[str, str]:
    secrets: WebApiSecrets = ctx.secrets
    return dict(secrets.headers())


def allowed_url(ctx: ToolContext, raw: str) -> httpx.URL:
    config: WebApiConfig = ctx.config
    try:
        return check_url(raw, config.hostnames, config.ports)
    except ValueError as exc:
        raise PermanentError(f"url: {exc}") from exc


async def send(
    ctx: ToolContext,
    method: str,
    url: httpx.URL,
    *,
    idempotent: bool,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    content: bytes | None = None,
) -> httpx.Response:
    return await ctx.http.request(
        method,
        url,
        idempotent=idempotent,
        headers={**(headers or {}), **auth_headers(ctx)},
        json=json,
        content=content,
    )


def secret_forms(ctx: ToolContext) -> list[str]:
    """The header values, and the credential part after an auth scheme (`Bearer <x>`)."""
    forms: set[str] = set()
    for _, value in auth_headers(ctx).items():
        forms.add(value)
        _, _, credential = value.partition(" ")
        if len(credential.strip()) >= 8:
            forms.add(credential.strip())
    return sorted(forms, key=len, reverse=True)


def redact(text: str, forms: list[str]) -> str:
    for form in forms:
        text = text.replace(form, REDACTED)
    return text
