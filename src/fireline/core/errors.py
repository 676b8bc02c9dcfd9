"""One error hierarchy for the whole service, mapped to HTTP in one place.

    FirelineError
    ├── SettingsError            bad configuration; the process refuses to start
    ├── ApiError                 carries an HTTP status and a PagerDuty error code
    │   ├── InvalidInputError    400 / 2001
    │   ├── ArgumentsCausedError 400 / 2002
    │   ├── AuthenticationError  401 / 2006
    │   ├── AccessDeniedError    403 / 2010
    │   ├── NotFoundError        404 / 2100
    │   ├── ConflictError        409 / 2001
    │   ├── PayloadTooLargeError 413 / 2001
    │   ├── RequestTimeoutError  408 / 2001
    │   ├── UnprocessableError   422 / 2001
    │   └── RateLimitedError     429 / 2020
    └── IntegrationError         raised by integrations while talking to a tool
        ├── CredentialError      not retried; marks the connection unhealthy
        ├── TransientError       retried with back-off
        ├── PermanentError       not retried
        └── EgressDenied         the request was refused before it left

Messages of every error here may reach a client: they never carry a secret.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError


class FirelineError(Exception):
    """Base of every error Fireline raises on purpose."""


class SettingsError(FirelineError):
    """Configuration is missing or malformed."""


class ApiError(FirelineError):
    status_code = 500
    code = 2000
    default_message = "Internal Server Error"

    def __init__(self, message: str | None = None, *, errors: Sequence[str] = (),
                 headers: Mapping[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.errors = list(errors)
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def body(self) -> dict[str, object]:
        return {"error": {"message": self.message, "code": self.code, "errors": self.errors}}


class InvalidInputError(ApiError):
    status_code = 400
    code = 2001
    default_message = "Invalid Input Provided"


class ArgumentsCausedError(ApiError):
    status_code = 400
    code = 2002
    default_message = "Arguments Caused Error"


class AuthenticationError(ApiError):
    status_code = 401
    code = 2006
    default_message = "Authentication failed"


class AccessDeniedError(ApiError):
    status_code = 403
    code = 2010
    default_message = "Access Denied"


class NotFoundError(ApiError):
    status_code = 404
    code = 2100
    default_message = "Not Found"


class ConflictError(ApiError):
    status_code = 409
    code = 2001
    default_message = "Conflict"


class UnprocessableError(ApiError):
    status_code = 422
    code = 2001
    default_message = "Unprocessable Entity"


class PayloadTooLargeError(ApiError):
    status_code = 413
    code = 2001
    default_message = "Request body too large"


class RequestTimeoutError(ApiError):
    status_code = 408
    code = 2001
    default_message = "The request body did not arrive in time"


class RateLimitedError(ApiError):
    status_code = 429
    code = 2020
    default_message = "Rate Limit Exceeded"


class IntegrationError(FirelineError):
    """A call to an external tool failed; the message is safe to show.

    When the tool answered, `response` is its (fully read) HTTP response, for integrations
    that read the tool's own error text from it; whatever they quote they scrub first."""

    response: Any = None


class CredentialError(IntegrationError):
    pass


class TransientError(IntegrationError):
    """`outcome_unknown`: the request may have reached the tool and taken effect (a timeout
    after sending, a dropped connection, a gateway error) — WF-6 forbids retrying a
    non-idempotent action blindly then."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, outcome_unknown: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown


class PermanentError(IntegrationError):
    pass


class EgressDenied(IntegrationError):
    pass


def validation_message(item: Mapping[str, Any]) -> str:
    """A pydantic error's message; our validators' own words without pydantic's "Value
    error, " in front of them."""
    message = str(item.get("msg", "invalid"))
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def located_messages(exc: ValidationError, prefix: str,
                     skip: Callable[[tuple[int | str, ...]], bool] = lambda loc: False,
                     ) -> list[str]:
    """Each error of `exc` as "prefix.field.path: message" ("prefix: message" when it is
    the model's own), the form the web app places beside the field it names."""
    messages = []
    for item in exc.errors(include_input=False, include_url=False):
        if skip(item["loc"]):
            continue
        location = ".".join(str(part) for part in item["loc"])
        where = f"{prefix}.{location}" if prefix and location else (prefix or location)
        messages.append(f"{where}: {validation_message(item)}" if where
                        else validation_message(item))
    return messages
