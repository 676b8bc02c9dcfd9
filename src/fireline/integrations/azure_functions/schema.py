from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets

# Default host names of function apps: `<app>.azurewebsites.net`, deployment slots
# `<app>-<slot>.azurewebsites.net`, and unique default host names
# `<app>-<hash>.<region>-01.azurewebsites.net`; Azure Government and Azure China likewise.
_HOST = re.compile(
    r"^(?P<app>[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?)(?:\.[a-z0-9-]+)?"
    r"\.(?:azurewebsites\.net|azurewebsites\.us|chinacloudsites\.cn)$"
)
# Functions' default route prefix is `api`; the rest is the function's route.
_PATH = re.compile(r"^/api/[A-Za-z0-9_\-./{}~%]+$")

BODY_LIMIT = 64 * 1024


class AzureFunctionsConfig(ConnectionConfig):
    url: str = Field(
        title="URL",
        description="The URL for the connection, e.g. "
        "https://<APP_NAME>.azurewebsites.net/api/<FUNCTION_NAME>.",
    )

    @field_validator("url")
    @classmethod
    def _function_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https":
            raise ValueError("must be an https:// URL")
        if "code=" in parts.query:
            # SEC-7: the key goes in the API Key field and is sent as a header.
            raise ValueError(
                "must not contain the key (?code=...): enter it as the API Key; Fireline "
                "sends it in the x-functions-key header"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must not contain a query string, fragment or user name")
        if parts.port not in (None, 443):
            raise ValueError("must not contain a port")
        host = (parts.hostname or "").lower()
        # `<app>.scm.azurewebsites.net` is the app's Kudu deployment site, not its functions.
        if not _HOST.match(host) or ".scm." in host:
            raise ValueError(
                "must be a function app URL like "
                "https://<APP_NAME>.azurewebsites.net/api/<FUNCTION_NAME>"
            )
        if not _PATH.match(parts.path.rstrip("/")):
            raise ValueError("must be a function URL under /api/, e.g. /api/<FUNCTION_NAME>")
        return f"https://{host}{parts.path.rstrip('/')}"


class AzureFunctionsSecrets(ConnectionSecrets):
    model_config = ConfigDict(hide_input_in_errors=True)

    api_key: SecretStr = Field(
        title="API Key",
        description="The API Key for your Azure Function (a function or host key), sent in "
        "the x-functions-key header.",
    )

    @field_validator("api_key")
    @classmethod
    def _header_safe(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(r"[\x21-\x7e]+", value.get_secret_value()):
            raise ValueError("must be the key alone: printable characters, no spaces")
        return value


class InvokeFunctionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # POST by default: definitions saved before the method could be chosen keep working.
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        default="POST",
        title="HTTP Method",
        description="The method the function is invoked with (its trigger must allow it).",
    )
    body: Any = Field(default=None, title="Body", description="A JSON body (not sent with GET).")

    @model_validator(mode="after")
    def _no_body_with_get(self) -> InvokeFunctionInput:
        if self.method == "GET" and self.body is not None:
            raise ValueError("a GET invocation has no body")
        return self


class InvokeFunctionOutput(BaseModel):
    status_code: int
    body: str
    truncated: bool
    json_body: Any = None
