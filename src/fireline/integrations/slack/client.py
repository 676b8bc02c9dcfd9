"""Slack Web API calls (https://slack.com/api/<method>) with the bot token as a bearer header.

Slack answers most failures with HTTP 200 and `{"ok": false, "error": "<code>"}`: those are
translated here — token problems to `CredentialError` (the connection must be reconnected),
Slack-side hiccups to `TransientError`, everything else to `PermanentError` with the code.
A caller that handles some codes itself (`name_taken`, `already_archived`) names them in
`handled` and gets the `ok: false` body back instead.
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
    {
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "ratelimited",
        "too_many_requests",  # bookmarks.add: "Too many concurrent requests. Please retry."
    }
)
# Slack: "It's possible some aspect of the operation succeeded before the error was raised."
_MAYBE_DONE = frozenset({"internal_error", "fatal_error"})


def raise_for_error(method: str, body: Mapping[str, Any], *, idempotent: bool = True) -> None:
    if body.get("ok") is True:
        return
    error = str(body.get("error") or "unknown_error")
    message = f"Slack {method} failed: {error}"
    if error == "missing_scope" and body.get("needed"):
        message += f" (needs {body['needed']}; reconnect to grant it)"
    if error in _CREDENTIAL_ERRORS:
        raise CredentialError(message)
    if error in _TRANSIENT_ERRORS:
        # WF-6: a write that may have happened is not retried blindly.
        raise TransientError(message, outcome_unknown=not idempotent and error in _MAYBE_DONE)
    raise PermanentError(message)


async def call(
    ctx: ToolContext,
    method: str,
    *,
    idempotent: bool,
    json: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    handled: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """POST a JSON body (write methods accept JSON) or GET with query arguments (read methods
    such as conversations.list only take form/query arguments). The token is never a query
    argument (SEC-7). An `ok: false` answer whose code is in `handled` is returned."""
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
    if body.get("ok") is not True and body.get("error") in handled:
        return body
    raise_for_error(method, body, idempotent=idempotent)
    return body
