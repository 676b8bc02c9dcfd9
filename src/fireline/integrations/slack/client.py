"""Slack Web API calls (https://slack.com/api/<method>) with the bot token as a bearer header.

Slack answers most failures with HTTP 200 and `{"ok": false, "error": "<code>"}`: those are
translated here — token problems to `CredentialError` (the connection must be reconnected),
Slack-side hiccups to `TransientError`, everything else to `PermanentError` with the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations._oauth import bearer
from fireline.integrations.base import ToolContext

API = "https://slack.com/api/"

_CREDENTIAL_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "org_login_required",
        "team_access_not_granted",
        "ekm_access_denied",
        "not_allowed_token_type",
    }
)
_TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)


def raise_for_error(method: str, body: Mapping[str, Any]) -> None:
    if body.get("ok") is True:
        return
    error = str(body.get("error") or "unknown_error")
    message = f"Slack {method} failed: {error}"
    if error == "missing_scope" and body.get("needed"):
        message += f" (needs {body['needed']}; reconnect to grant it)"
    if error in _CREDENTIAL_ERRORS:
        raise CredentialError(message)
    if error in _TRANSIENT_ERRORS:
        raise TransientError(message)
    raise PermanentError(message)


async def call(
    ctx: ToolContext,
    method: str,
    *,
    idempotent: bool,
    json: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """POST a JSON body (write methods accept JSON) or GET with query arguments (read methods
    such as conversations.list only take form/query arguments). The token is never a query
    argument (SEC-7)."""
    headers = bearer(ctx)
    if json is not None:
        headers["Content-Type"] = "application/json; charset=utf-8"
        response = await ctx.http.request(
            "POST", API + method, idempotent=idempotent, headers=headers, json=dict(json)
        )
    elif params is not None:
        response = await ctx.http.request(
            "GET", API + method, idempotent=idempotent, headers=headers, params=params
        )
    else:
        response = await ctx.http.request(
            "POST", API + method, idempotent=idempotent, headers=headers
        )
    body: dict[str, Any] = response.json()
    raise_for_error(method, body)
    return body
