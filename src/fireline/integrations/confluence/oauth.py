"""Atlassian OAuth 2.0 (3LO) for Confluence Cloud.

- Authorize: https://auth.atlassian.com/authorize with `audience=api.atlassian.com`,
  `client_id`, space-separated `scope`, `redirect_uri`, `state`, `response_type=code`,
  `prompt=consent`. On the consent page the user picks the site to grant. No PKCE.
- Token: POST https://auth.atlassian.com/oauth/token with a JSON body — `grant_type`
  `authorization_code` (`client_id`, `client_secret`, `code`, `redirect_uri`) or
  `refresh_token`. `offline_access` yields a refresh token; refresh tokens ROTATE: each use
  returns a new one and the old one dies. Refusals: 403 `invalid_grant` ("Unknown or invalid
  refresh token."), 401 `access_denied` (bad client credentials).
- After the token: `GET https://api.atlassian.com/oauth/token/accessible-resources` lists the
  granted sites (`id` = cloud id, `url`, `name`, `scopes`); `select_site` turns the chosen one
  into the connection's config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations._oauth import read_tokens
from fireline.integrations.base import OAuthProvider, OAuthTokens, ToolContext
from fireline.integrations.confluence import client
from fireline.integrations.confluence.schema import ConfluenceConfig

SCOPES = (
    "read:confluence-content.all",
    "search:confluence",
    "read:confluence-space.summary",
    "offline_access",
)


@dataclass(frozen=True)
class Site:
    id: str  # the cloud id
    name: str
    url: str


def parse_tokens(body: Mapping[str, Any]) -> OAuthTokens:
    return read_tokens("Atlassian", body)


async def list_sites(ctx: ToolContext) -> list[Site]:
    """The Confluence sites this token was granted (resources whose scopes are Confluence's)."""
    return [
        Site(id=item["id"], name=item.get("name", ""), url=item["url"])
        for item in await client.accessible_resources(ctx)
        if any("confluence" in scope for scope in item.get("scopes", []))
    ]


def choose_site(
    sites: list[Site], site_id: str | None = None, site_url: str | None = None
) -> Site | None:
    """The site to use: the one asked for (by cloud id or site URL), else the only one; None
    when the user must pick."""
    if site_id is not None:
        return next((site for site in sites if site.id == site_id), None)
    if site_url is not None:
        wanted = site_url.rstrip("/").lower()
        return next((site for site in sites if site.url.rstrip("/").lower() == wanted), None)
    return sites[0] if len(sites) == 1 else None


async def select_site(
    ctx: ToolContext, site_id: str | None = None, site_url: str | None = None
) -> dict[str, Any]:
    """Config details for the chosen site (cloud_id, site_url, site_name). Raises
    PermanentError when nothing matches or when several sites need a choice (`list_sites`)."""
    sites = await list_sites(ctx)
    site = choose_site(sites, site_id, site_url)
    if site is None:
        if not sites:
            raise PermanentError("No Confluence site was granted to this connection")
        names = ", ".join(f"{s.name} ({s.url}, cloud ID {s.id})" for s in sites)
        raise PermanentError(
            f"Choose the Confluence site to connect (set its Site URL or Cloud ID on the "
            f"connection): {names}")
    return {"cloud_id": site.id, "site_url": site.url, "site_name": site.name}


async def connect_details(ctx: ToolContext) -> dict[str, Any]:
    # A user granted several sites names the one they mean in the Add form (Site URL or
    # Cloud ID) before authorizing; the callback then picks it from the granted sites.
    config = ctx.config
    assert isinstance(config, ConfluenceConfig)
    return await select_site(ctx, config.cloud_id,
                             str(config.site_url) if config.site_url else None)


async def site_choices(ctx: ToolContext) -> list[tuple[str, str]]:
    """The granted sites to pick from, while the connection has none."""
    config = ctx.config
    assert isinstance(config, ConfluenceConfig)
    if config.cloud_id:
        return []
    return [(site.id, f"{site.name} ({site.url})") for site in await list_sites(ctx)]


async def choose(ctx: ToolContext, site_id: str) -> dict[str, Any]:
    return await select_site(ctx, site_id)


PROVIDER = OAuthProvider(
    setting_prefix="CONFLUENCE",
    authorize_url="https://auth.atlassian.com/authorize",
    token_url="https://auth.atlassian.com/oauth/token",
    scopes=SCOPES,
    pkce=False,
    extra_authorize_params={"audience": "api.atlassian.com", "prompt": "consent"},
    parse_tokens=parse_tokens,
    connect_details=connect_details,
    choices=site_choices,
    choose=choose,
    token_body="json",
)
