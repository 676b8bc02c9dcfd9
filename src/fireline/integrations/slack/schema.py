from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from fireline.integrations.base import ConnectionConfig

# Slack ids: T… (team), U…/W… (user), C…/G…/D… (conversation); messages are `ts` strings.
_ID = r"^[A-Z0-9]{2,32}$"
_TS = r"^\d{1,12}\.\d{1,9}$"
_CHANNEL_ID = r"^[CG][A-Z0-9]{2,31}$"  # public or private channels, not DMs
_USER_ID = r"^[UW][A-Z0-9]{2,31}$"
_NAME_MAX = 80


def channel_name(value: str) -> str:
    """Slack: "Channel names may only contain lowercase letters, numbers, hyphens, and
    underscores, and must be 80 characters or less." Accents are dropped, every other run of
    characters becomes one hyphen, and the ends are trimmed."""
    plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^a-z0-9_-]+", "-", plain.lower())
    name = re.sub(r"-{2,}", "-", name).strip("-_")[:_NAME_MAX].rstrip("-_")
    if not name:
        # Slack's invalid_name_punctuation / invalid_name_required, caught before the call.
        raise ValueError("needs at least one letter or digit")
    return name


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


class CreateIncidentChannelInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, AfterValidator(channel_name)] = Field(
        title="Channel Name",
        description=(
            "Usually built from the incident, e.g. "
            "inc-{{ incident.incident_number }}-{{ incident.title }}. Made to fit Slack's "
            "rules: lowercase, accents dropped, spaces and punctuation become hyphens, at "
            "most 80 characters."
        ),
        min_length=1,
        max_length=1000,
    )
    is_private: bool = Field(default=False, title="Private Channel")


class IncidentChannelOutput(BaseModel):
    id: str
    name: str
    is_private: bool
    # False: a channel of that name already existed (a retried step) and is returned.
    created: bool


class ArchiveChannelInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(
        title="Channel ID",
        description="The channel to archive (C…, G…), e.g. {{ steps.channel.output.id }}.",
        pattern=_CHANNEL_ID,
    )


class ArchiveChannelOutput(BaseModel):
    channel: str
    already_archived: bool


class SendDirectMessageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(title="User ID", description="The Slack user (U…, W…).", pattern=_USER_ID)
    text: str = Field(
        title="Message", min_length=1, max_length=40_000, json_schema_extra={"multiline": True}
    )


class DirectMessageOutput(BaseModel):
    channel: str  # the DM's conversation ID (D…)
    ts: str


class SetChannelTopicInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(
        title="Channel ID", description="A channel ID (C…, G…).", pattern=_CHANNEL_ID
    )
    # Slack: too_long — "Topic was longer than 250 characters."
    topic: str = Field(
        title="Topic",
        description="Plain text; Slack does not format it.",
        min_length=1,
        max_length=250,
    )


class ChannelTopicOutput(BaseModel):
    channel: str
    topic: str


class AddBookmarkInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(
        title="Channel ID", description="A channel ID (C…, G…).", pattern=_CHANNEL_ID
    )
    title: str = Field(title="Title", min_length=1, max_length=255)
    # Slack: invalid_link — "link should begin with either http:// or https://".
    link: str = Field(title="Link", max_length=2000, pattern=r"^https?://[^\s]+$")


class BookmarkOutput(BaseModel):
    id: str
    channel: str
    title: str
    link: str
    # False: the channel already had this bookmark (a retried step) and it is returned.
    created: bool
