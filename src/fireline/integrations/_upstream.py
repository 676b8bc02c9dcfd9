"""What a tool said when it refused a request, recovered from the egress error.

The egress client raises `CredentialError` / `PermanentError` / `TransientError` for non-2xx
answers. Tools put the useful part in their error body (ServiceNow's `error_description`,
GraphQL `errors[].extensions.code`, Rundeck's `message`). This reads that body from the
error's `response` when the client attaches one, else from the `"<status>: <body>"` message
form, and returns it parsed. It never raises: no body simply means nothing to add.
Callers scrub whatever they quote (SEC-5).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from fireline.core.errors import IntegrationError, TransientError
from fireline.core.redaction import REDACTED, scrub

_STATUS_PREFIX = re.compile(r"^\s*(\d{3}):\s*")


def error_status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, httpx.Response):
        return response.status_code
    match = _STATUS_PREFIX.match(str(exc))
    return int(match[1]) if match else None


def error_body(exc: Exception) -> Any:
    response = getattr(exc, "response", None)
    if isinstance(response, httpx.Response):
        text = response.text
    else:
        text = _STATUS_PREFIX.sub("", str(exc), count=1)
    try:
        return json.loads(text)
    except ValueError:
        return None


def safe_text(text: str, *secrets: str) -> str:
    """`scrub`, plus the given secret values (which may not be registered yet, or be short)."""
    text = scrub(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text[:500]


def same_kind(exc: IntegrationError, message: str) -> IntegrationError:
    """The same error class with a better message (the retry hint, and whether the request
    may have taken effect (WF-6), are kept)."""
    if isinstance(exc, TransientError):
        return TransientError(message, retry_after=exc.retry_after,
                              outcome_unknown=exc.outcome_unknown)
    return type(exc)(message)
