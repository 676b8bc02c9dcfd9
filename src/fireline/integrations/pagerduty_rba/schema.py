from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets

DOMAIN = "runbook.pagerduty.cloud"


def _dns_label(value: str) -> str:
    label = value.strip().lower()
    if label.endswith("." + DOMAIN):  # a pasted host: keep its first label
        label = label[: -len(DOMAIN) - 1]
    # RFC 1035 §2.3.1: letters, digits, hyphens; starts and ends alphanumeric; <= 63 chars.
    if not (
        0 < len(label) <= 63
        and label.replace("-", "").isalnum()
        and label.isascii()
        and label[0] != "-"
        and label[-1] != "-"
    ):
        raise ValueError(
            f"must be the subdomain of your {DOMAIN} account: letters, digits and hyphens, "
            "not starting or ending with a hyphen, at most 63 characters"
        )
    return label


class RunbookAutomationConfig(ConnectionConfig):
    subdomain: Annotated[str, AfterValidator(_dns_label)] = Field(
        title="Subdomain",
        description=f"The subdomain for your {DOMAIN} account (the `acme` of "
        f"https://acme.{DOMAIN}). Credentials are sent to that host only.",
    )
    username: str = Field(
        title="Username",
        description="The user associated with the token.",
        min_length=1,
        max_length=255,
    )


class RunbookAutomationSecrets(ConnectionSecrets):
    token: SecretStr = Field(
        title="Token",
        description="The API Token that will provide authentication "
        "(sent as `X-Rundeck-Auth-Token`).",
        min_length=1,
    )


JobId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class RunJobInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: JobId = Field(title="Job ID", description="The job's UUID.")
    options: dict[str, str] = Field(default_factory=dict, title="Options")
    as_user: str | None = Field(
        default=None,
        max_length=255,
        title="Run As User",
        description="Run the job as this user (requires the `runAs` permission).",
    )
    log_level: str | None = Field(
        default=None, pattern=r"^(DEBUG|VERBOSE|INFO|WARN|ERROR)$", title="Log Level"
    )
    node_filter: str | None = Field(default=None, max_length=1000, title="Node Filter")


class GetExecutionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    execution_id: int = Field(ge=1, title="Execution ID")


class Execution(BaseModel):
    id: int
    status: str
    permalink: str | None
    href: str | None
    project: str | None
    user: str | None
    job_id: str | None
    job_name: str | None
    argstring: str | None
    started_at: str | None
    ended_at: str | None
    successful_nodes: list[str]
    failed_nodes: list[str]
