"""GitHub REST calls on https://api.github.com with the user access token (`ghu_…`).

Every request names the API version (`X-GitHub-Api-Version`), asks for
`application/vnd.github+json` and carries a User-Agent (GitHub refuses requests without one).
Pagination follows the `Link: <…>; rel="next"` header, only while it stays on api.github.com.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations._oauth import bearer
from fireline.integrations.base import ToolContext

API = "https://api.github.com"
API_VERSION = "2022-11-28"


def _headers(ctx: ToolContext) -> dict[str, str]:
    return {
        **bearer(ctx),
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": "Fireline",
    }


def repo_path(owner: str, repo: str) -> str:
    return f"/repos/{quote(owner, safe='')}/{quote(repo, safe='')}"


@asynccontextmanager
async def _rate_limits_are_transient() -> AsyncIterator[None]:
    # GitHub answers an exhausted (primary or secondary) rate limit with 403 and a body that
    # says so; that is not a credential problem and must not mark the connection unhealthy.
    try:
        yield
    except CredentialError as exc:
        if "rate limit" in str(exc).lower():
            raise TransientError(f"GitHub rate limit exceeded: {exc}") from exc
        raise


async def get(
    ctx: ToolContext, path_or_url: str, params: Mapping[str, Any] | None = None
) -> httpx.Response:
    url = path_or_url if path_or_url.startswith("https://") else API + path_or_url
    async with _rate_limits_are_transient():
        return await ctx.http.request(
            "GET", url, idempotent=True, headers=_headers(ctx), params=params
        )


async def post(ctx: ToolContext, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
    async with _rate_limits_are_transient():
        response = await ctx.http.request(
            "POST", API + path, idempotent=False, headers=_headers(ctx), json=dict(body)
        )
    result: dict[str, Any] = response.json()
    return result


def next_page(response: httpx.Response) -> str | None:
    url = response.links.get("next", {}).get("url")
    if url is None:
        return None
    if httpx.URL(url).host != "api.github.com":
        raise PermanentError("GitHub pagination pointed outside api.github.com")
    return str(url)
