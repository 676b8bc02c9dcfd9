from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fireline.integrations.base import ConnectionConfig

# Slack ids: T… (team), U…/W… (user), C…/G…/D… (conversation); messages are `ts` strings.
_ID = r"^[A-Z0-9]{2,32}$"
_TS = r"^\d{1,12}\.\d{1,9}$"


class SlackConfig(ConnectionConfig):
    """Learned from the `oauth.v2.access` answer at connect time; empty until the callback."""

    team_id: str | None = Field(default=None, title="Workspace ID", pattern=_ID)
    team_name: str | None = Field(default=None, title="Workspace", max_length=255)
    bot_user_id: str | None = Field(default=None, title="Bot User ID", pattern=_ID)


class PostMessageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(
        title="Channel",
        description="A channel ID (C…, G…, D…) or name (#incidents).",
        min_length=1,
        max_length=80,
        pattern=r"^[#@]?[\w.-]+$",
    )
    text: str = Field(title="Message", min_length=1, max_length=40_000)
    thread_ts: str | None = Field(
        default=None,
        title="Thread",
        description="Reply in this thread (a message ts).",
        pattern=_TS,
    )


class PostMessageOutput(BaseModel):
    channel: str
    ts: str


# Only the types the requested scopes can read (channels:read, groups:read): asking for
# mpim/im would fail with missing_scope and mark the connection unhealthy.
ConversationType = Literal["public_channel", "private_channel"]


class ListChannelsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    types: tuple[ConversationType, ...] = Field(default=("public_channel",), min_length=1)
    exclude_archived: bool = True
    limit: int = Field(default=200, ge=1, le=5000, description="At most this many channels.")


class Channel(BaseModel):
    id: str
    name: str | None
    is_private: bool
    is_archived: bool
    num_members: int | None


class ListChannelsOutput(BaseModel):
    channels: list[Channel]
