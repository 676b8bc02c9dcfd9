"""AWS calls through boto3, always with temporary credentials of the connection's role.

The server's own credentials (the standard boto chain: environment, instance profile, ...)
are used for one thing only: `sts:AssumeRole` on the connection's role, with its
server-generated external ID, a traceable session name and a 15-minute lifetime (AWS-2).
Every other call is signed with the role's temporary credentials. boto3 is blocking, so
calls run in a worker thread; each call builds its own session (sessions are not
thread-safe, clients are). botocore's own retries are off: the workflow engine retries
`TransientError`s with its back-off (WF-8), and a non-idempotent call must not be resent
behind its back (WF-6).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
)

from fireline.core.errors import (
    CredentialError,
    EgressDenied,
    IntegrationError,
    PermanentError,
    TransientError,
)
from fireline.integrations.aws.regions import dns_suffix
from fireline.integrations.aws.schema import AwsConfig
from fireline.integrations.base import ToolContext

ENDPOINT_SETTING = "FIRELINE_AWS_ENDPOINT_URL"
SESSION_SECONDS = 900  # the shortest AssumeRole allows

_CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
    }
)
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceException",
        "InternalFailure",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

T = TypeVar("T")


@dataclass(frozen=True)
class RoleSession:
    """A boto3 session holding the role's temporary credentials."""

    session: Any
    region: str
    endpoint_override: str | None

    def client(self, service: str, *, read_timeout: int = 30) -> Any:
        return make_client(self.session, service, self.region, self.endpoint_override, read_timeout)


def make_client(
    session: Any, service: str, region: str, override: str | None, read_timeout: int = 30
) -> Any:
    """A client bound to one explicit endpoint, refusing to send anywhere else (NET-6).

    boto3 has its own HTTP stack, outside the egress client, so the pin is enforced here:
    the regional endpoint of the connection's region (or the test override), checked on
    every request before it is sent.
    """
    endpoint = override or f"https://{service}.{region}.{dns_suffix(region)}"
    client = session.client(
        service, region_name=region, endpoint_url=endpoint, config=_config(read_timeout)
    )
    allowed = urlsplit(endpoint).hostname

    def pinned(request: Any, **_: Any) -> None:
        if urlsplit(request.url).hostname != allowed:
            raise EgressDenied(f"{service}: refusing to send to {urlsplit(request.url).hostname}")

    client.meta.events.register_first("before-send", pinned)
    return client


# Service models are read from disk once and shared: a fresh boto3 session reloads them
# (~80 ms of CPU per client); with the loader shared it is ~9 ms. Each call still gets its own
# session, so credentials are resolved per call and nothing mutable is shared across threads.
_LOADER = botocore.session.get_session().get_component("data_loader")


def new_session(**credentials: str) -> Any:
    core = botocore.session.Session()
    core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core, **credentials)


def _config(read_timeout: int) -> Config:
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=read_timeout,
        user_agent_extra="fireline",
    )


def session_name(connection_id: str) -> str:
    # RoleSessionName: [\w+=,.@-]{2,64}; it appears in the customer's CloudTrail.
    return ("fireline-" + re.sub(r"[^\w+=,.@-]", "-", connection_id))[:64]


def translate(exc: ClientError | BotoCoreError, doing: str) -> IntegrationError:
    """A boto error as a Fireline error whose message is safe to show."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = f"{doing}: {code}: {error.get('Message', '')}".rstrip(": ")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _CREDENTIAL_CODES:
            return CredentialError(message)
        if code in _TRANSIENT_CODES or status >= 500 or status == 429:
            return TransientError(message)
        return PermanentError(message)
    if isinstance(exc, NoCredentialsError):
        return PermanentError(f"{doing}: the Fireline server has no AWS credentials configured")
    if isinstance(exc, ParamValidationError):
        return PermanentError(f"{doing}: {exc}")
    # Connection failures and timeouts.
    return TransientError(f"{doing}: {type(exc).__name__}: {exc}")


def call(doing: str, operation: Callable[[], T]) -> T:
    try:
        return operation()
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, doing) from exc


def assume_role(ctx: ToolContext) -> RoleSession:
    """AWS-2: AssumeRole with the connection's external ID; blocking."""
    config: AwsConfig = ctx.config
    if not ctx.external_id:
        raise PermanentError("this AWS connection has no external ID")
    override = ctx.endpoints.get(ENDPOINT_SETTING) or None
    sts = make_client(new_session(), "sts", config.default_region, override)
    answer = call(
        "AssumeRole",
        lambda: sts.assume_role(
            RoleArn=config.role_arn,
            RoleSessionName=session_name(ctx.connection_id),
            ExternalId=ctx.external_id,
            DurationSeconds=SESSION_SECONDS,
        ),
    )
    credentials = answer["Credentials"]
    role = new_session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    return RoleSession(session=role, region=config.default_region, endpoint_override=override)


async def run(ctx: ToolContext, work: Callable[[RoleSession], T]) -> T:
    """Assumes the role and runs `work` with it, off the event loop."""

    def blocking() -> T:
        return work(assume_role(ctx))

    return await asyncio.to_thread(blocking)
