"""Jeli API calls: `https://api.jeli.io/v1/…` with `Authorization: Bearer <API token>`.

PagerDuty's Jeli API page documents the Bearer token and what the API can do (create and list
incidents or post-incident reviews — "opportunities" in Jeli's older name — and import events)
but links its endpoint reference out; the base URL and the `/incidents` and `/opportunities`
resource shapes used here are the documented capabilities in the form the public examples
show — see the package report for what is assumed.
"""

from __future__ import annotations

from typing import Any

from fireline.core.errors import IntegrationError
from fireline.integrations._upstream import error_body, error_status, safe_text, same_kind
from fireline.integrations.base import ToolContext
from fireline.integrations.jeli.schema import JeliSecrets

API_HOST = "api.jeli.io"
BASE_URL = f"https://{API_HOST}/v1"


def _message(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return None


async def call(
    ctx: ToolContext,
    method: str,
    path: str,
    *,
    idempotent: bool,
    params: dict[str, Any] | None = None,
    json: Any = None,
) -> Any:
    secrets: JeliSecrets = ctx.secrets
    token = secrets.api_token.get_secret_value()
    try:
        response = await ctx.http.request(
            method,
            f"{BASE_URL}{path}",
            idempotent=idempotent,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            params=params,
            json=json,
        )
    except IntegrationError as exc:
        status = error_status(exc)
        message = f"Jeli refused {method} {path}" + (f" (HTTP {status})" if status else "")
        upstream = _message(error_body(exc))
        if upstream:
            message += f": {safe_text(upstream, token)}"
        raise same_kind(exc, message) from None
    return response.json()
