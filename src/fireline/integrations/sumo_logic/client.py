"""Sumo Logic API calls on the deployment's API host with HTTP Basic (Access ID : Access Key)
in the `Authorization` header only.

Search jobs: the Search Job API historically tied a job to the session cookies set when it was
created, so the cookies from `POST /api/v1/search/jobs` are sent back on every call for that
job, together with the credentials (Sumo Logic asks for both). A 301 means the account lives on
another deployment: Sumo Logic answers with a redirect that is never followed (NET-4).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import httpx

from fireline.core.errors import PermanentError
from fireline.integrations.base import ToolContext
from fireline.integrations.sumo_logic.schema import SumoLogicConfig, SumoLogicSecrets


def _headers(ctx: ToolContext, cookies: str | None) -> dict[str, str]:
    secrets: SumoLogicSecrets = ctx.secrets
    pair = f"{secrets.access_id.get_secret_value()}:{secrets.access_key.get_secret_value()}"
    headers = {
        "Authorization": f"Basic {base64.b64encode(pair.encode()).decode()}",
        "Accept": "application/json",
    }
    if cookies:
        headers["Cookie"] = cookies
    return headers


async def call(
    ctx: ToolContext,
    method: str,
    path: str,
    *,
    idempotent: bool = True,
    cookies: str | None = None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
) -> httpx.Response:
    config: SumoLogicConfig = ctx.config
    response = await ctx.http.request(
        method,
        config.api_url + path,
        idempotent=idempotent,
        headers=_headers(ctx, cookies),
        params=params,
        json=json,
    )
    if 300 <= response.status_code < 400:
        raise PermanentError(
            f"Sumo Logic answered {response.status_code}: this account is not on the "
            f"{config.deployment} deployment. Choose the deployment shown in your Sumo Logic "
            "service URL (service.<deployment>.sumologic.com)."
        )
    return response


def session_cookies(response: httpx.Response) -> str | None:
    pairs = [f"{name}={value}" for name, value in response.cookies.items()]
    return "; ".join(pairs) or None
