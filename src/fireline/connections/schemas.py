"""Request bodies of the connections API, in PagerDuty's shapes (`{"connection": {...}}`).

Read-only fields a client may echo back from a GET (id, type, health, ...) are accepted and
ignored, so that GET → modify → PUT works; any other unknown field is an error.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

_READ_ONLY = {
    "id",
    "type",
    "integration_id",
    "health",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "self",
    "html_url",
    "summary",
    "external_id_label",
    "service_url",
    "scopes",
    "oauth_state",
    "setup",
}


class TeamReference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team_id: str | None = Field(default=None, max_length=40)
    id: str | None = Field(default=None, max_length=40)
    type: str | None = None

    @property
    def key(self) -> str:
        return self.team_id or self.id or ""

    @model_validator(mode="after")
    def _has_id(self) -> TeamReference:
        if not self.key:
            raise ValueError("a team reference needs team_id (or id)")
        return self


class _ConnectionFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if key not in _READ_ONLY}
        return data


class ConnectionCreate(_ConnectionFields):
    name: str = Field(min_length=1, max_length=200)
    configuration: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, Any] = Field(default_factory=dict)
    is_default: bool = False
    allow_sre_agent: bool = False
    teams: list[TeamReference] = Field(default_factory=list, max_length=100)
    allow_private_networks: list[str] = Field(default_factory=list, max_length=20)
    # AWS: the external ID issued by `POST .../aws/external_ids` and shown during set-up.
    external_id: str | None = Field(default=None, max_length=64)


class ConnectionUpdate(_ConnectionFields):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    configuration: dict[str, Any] | None = None
    secrets: dict[str, Any] | None = None
    is_default: bool | None = None
    allow_sre_agent: bool | None = None
    teams: list[TeamReference] | None = Field(default=None, max_length=100)
    allow_private_networks: list[str] | None = Field(default=None, max_length=20)
    external_id: str | None = Field(default=None, max_length=64)


class CreateEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connection: ConnectionCreate


class UpdateEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    connection: ConnectionUpdate
