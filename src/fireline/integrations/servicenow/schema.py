from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets


def _instance_base(value: str) -> str:
    # Reference text: "PagerDuty derives the instance base URL (scheme and host) from this
    # value for API and OAuth calls" — so a pasted page URL (path, query, fragment) is
    # accepted and reduced to its origin. Only https; never user info (NET-1).
    parts = urlsplit(value.strip())
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValueError("must be an https:// URL, e.g. https://yourcompany.service-now.com")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain a user name or password")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("has an invalid port") from exc
    host = parts.hostname.lower().rstrip(".")
    return f"https://{host}" if port in (None, 443) else f"https://{host}:{port}"


InstanceUrl = Annotated[str, AfterValidator(_instance_base)]


class ServiceNowConfig(ConnectionConfig):
    url: InstanceUrl = Field(
        title="URL",
        description="Your ServiceNow instance URL (for example "
        "https://yourcompany.service-now.com). The instance base URL (scheme and host) is "
        "derived from this value for API and OAuth calls; credentials are sent to that host only.",
    )


class ServiceNowSecrets(ConnectionSecrets):
    username: SecretStr = Field(
        title="ServiceNow Username",
        description="The ServiceNow user account used with the OAuth password grant.",
        min_length=1,
    )
    password: SecretStr = Field(
        title="ServiceNow Password",
        description="The password for that ServiceNow user account.",
        min_length=1,
    )
    client_id: SecretStr = Field(
        title="ServiceNow OAuth Client ID",
        description="The Client ID from your ServiceNow OAuth API application.",
        min_length=1,
    )
    client_secret: SecretStr = Field(
        title="ServiceNow OAuth Client Secret",
        description="The Client Secret from that OAuth application.",
        min_length=1,
    )


_ARTICLE_NUMBER = re.compile(r"^KB\d{4,}$")
_SYS_ID = re.compile(r"^[0-9a-f]{32}$")


def _article(value: str) -> str:
    value = value.strip()
    if _ARTICLE_NUMBER.fullmatch(value.upper()):
        return value.upper()
    if _SYS_ID.fullmatch(value.lower()):
        return value.lower()
    # The value goes into an encoded query: only these two shapes keep `^` and `=` out of it.
    raise ValueError("must be a knowledge article number (e.g. KB0010001) or a 32-character sys_id")


class RetrieveRunbookInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    article: Annotated[str, AfterValidator(_article)] = Field(
        title="Article Number or sys_id",
        description="The knowledge article number (e.g. KB0010001) or its sys_id.",
    )
    include_attachments: bool = Field(default=False, title="Include Attachments")


class Attachment(BaseModel):
    sys_id: str
    file_name: str
    content_type: str | None = None
    size_bytes: int | None = None
    download_link: str | None = None
    created_at: str | None = None


class RetrieveRunbookOutput(BaseModel):
    sys_id: str
    number: str
    title: str
    content: str
    content_text: str
    author: str | None
    knowledge_base: str | None
    workflow_state: str | None
    updated_at: str | None
    attachments: list[Attachment]


def _reference(value: str) -> str:
    value = value.strip()
    # A name goes into an encoded query (`name=...`): `^` would start another condition.
    if not value or "^" in value or any(c in value for c in "\r\n"):
        raise ValueError("must be a sys_id or a name without ^ or line breaks")
    return value


Reference = Annotated[str, AfterValidator(_reference)]
# Incident urgency and impact: 1 High, 2 Medium, 3 Low (ServiceNow's defaults are 3).
Level = Literal[1, 2, 3]
LEVEL_TITLES = ("1 - High", "2 - Medium", "3 - Low")  # the incident form's labels


class CreateIncidentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    short_description: str = Field(
        min_length=1, max_length=160, title="Short Description",
        description="The incident's one-line summary.",
    )
    description: str | None = Field(
        default=None, max_length=4_000, title="Description",
        description="The full description (ServiceNow keeps up to 4,000 characters).",
    )
    urgency: Level = Field(
        default=3, title="Urgency", description="1 High, 2 Medium, 3 Low.",
        json_schema_extra={"enum_titles": list(LEVEL_TITLES)},
    )
    impact: Level = Field(
        default=3, title="Impact", description="1 High, 2 Medium, 3 Low.",
        json_schema_extra={"enum_titles": list(LEVEL_TITLES)},
    )
    assignment_group: Reference | None = Field(
        default=None, max_length=100, title="Assignment Group",
        description="The group's sys_id or its exact name.",
    )
    caller: Reference | None = Field(
        default=None, max_length=100, title="Caller",
        description="The caller's sys_id, user name (user_name) or email address.",
    )
    category: str | None = Field(
        default=None, max_length=40, title="Category",
        description="A category value of your instance, e.g. software, network or database.",
    )


class IncidentOutput(BaseModel):
    sys_id: str
    number: str
    short_description: str
    urgency: int | None
    impact: int | None
    priority: int | None  # ServiceNow derives it from impact and urgency
    state: str | None
    assignment_group: str | None  # sys_id
    caller: str | None  # sys_id
    link: str
    # False when a retried step found the incident it had already created (WF-5).
    created: bool
