from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from fireline.integrations.base import ConnectionConfig, ConnectionSecrets


class JeliConfig(ConnectionConfig):
    username: str = Field(
        title="Username",
        description="The user who created the Jeli API token.",
        min_length=1,
        max_length=255,
    )


class JeliSecrets(ConnectionSecrets):
    api_token: SecretStr = Field(
        title="API Token",
        description="The Jeli API token (sent as `Authorization: Bearer …`).",
        min_length=1,
    )


class Incident(BaseModel):
    id: str
    title: str
    status: str | None = None
    severity: str | None = None
    summary: str | None = None
    url: str | None = None
    created_at: str | None = None
    created_by: str | None = None


class CreateIncidentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=255, title="Title")
    summary: str | None = Field(default=None, max_length=20_000, title="Summary")
    severity: str | None = Field(default=None, max_length=64, title="Severity")
    started_at: datetime | None = Field(default=None, title="Started At")


class CreateIncidentOutput(BaseModel):
    incident: Incident


class ListIncidentsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(default=None, max_length=32, pattern=r"^[a-z_]+$", title="Status")
    title_contains: str | None = Field(default=None, max_length=255, title="Title Contains")
    limit: int = Field(default=25, ge=1, le=100, title="Limit")


class ListIncidentsOutput(BaseModel):
    incidents: list[Incident]


class PostIncidentReview(BaseModel):
    id: str
    name: str
    incident_id: str | None = None
    status: str | None = None
    summary: str | None = None
    url: str | None = None
    created_at: str | None = None
    created_by: str | None = None


class CreatePostIncidentReviewInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=255,
        title="Name",
        description="The review's name, e.g. the incident's title.",
    )
    incident_id: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        title="Jeli Incident ID",
        description="The Jeli incident the review is about (e.g. Create Incident's id).",
    )
    summary: str | None = Field(
        default=None, max_length=20_000, title="Summary", description="Markdown."
    )


class CreatePostIncidentReviewOutput(BaseModel):
    review: PostIncidentReview


def review(body: dict[str, Any]) -> PostIncidentReview:
    return PostIncidentReview(
        id=str(body["id"]),
        name=str(body.get("name") or ""),
        incident_id=None if body.get("incident_id") is None else str(body["incident_id"]),
        status=body.get("status"),
        summary=body.get("summary"),
        url=body.get("url"),
        created_at=body.get("created_at"),
        created_by=body.get("created_by"),
    )


def incident(body: dict[str, Any]) -> Incident:
    return Incident(
        id=str(body["id"]),
        title=str(body.get("title") or ""),
        status=body.get("status"),
        severity=body.get("severity"),
        summary=body.get("summary"),
        url=body.get("url"),
        created_at=body.get("created_at"),
        created_by=body.get("created_by"),
    )
