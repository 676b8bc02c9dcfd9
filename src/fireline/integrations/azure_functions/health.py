"""Verification: an authenticated `OPTIONS` request to the function URL.

Invoking a function is not read-only, and a function key grants nothing but invocation
(the host's admin API needs the master key), so there is no purely read-only call that
proves a function key. `OPTIONS` is the safe method (RFC 9110 §9.3.7) that functions do not
treat as work: the Functions host answers it before running any code when the trigger does
not list it (404, route constraints are checked before keys), and functions that do list it
use it for CORS preflight. What makes the connection unhealthy: the host rejecting the key
(401/403), an unreachable app, or a server error. A 404/405 proves the app is reachable but
cannot prove the key; the message says so, and the first invocation checks the key.
"""

from __future__ import annotations

from fireline.core.errors import PermanentError
from fireline.integrations.azure_functions import client
from fireline.integrations.base import ToolContext


async def verify(ctx: ToolContext) -> str:
    try:
        response = await client.call(ctx, "OPTIONS", idempotent=True)
    except PermanentError:
        return (
            "Function app reachable; the function does not answer OPTIONS, so the key "
            "will be checked on the first invocation"
        )
    return f"Function reachable and key accepted (OPTIONS answered {response.status_code})"
