"""Slack actions, one Web API method each unless said otherwise:

- Post Message (`chat.postMessage`) and Send Direct Message (`conversations.open` with the
  user, then `chat.postMessage` to that DM). Slack takes no idempotency key for messages: both
  are non-idempotent, and an unknown outcome is parked rather than posted twice (WF-6).
- List Channels (`conversations.list`, cursor-paginated).
- Create Incident Channel (`conversations.create`). WF-5: the name is derived from the
  incident, so a retry asks for the same name; Slack answers `name_taken` and the existing
  channel is looked up by that name (`conversations.list`) and returned.
- Archive Channel (`conversations.archive`): `already_archived` counts as done, so a retry
  after a lost answer succeeds.
- Set Channel Topic (`conversations.setTopic`): setting the same topic again changes nothing.
- Add Bookmark (`bookmarks.add`, type `link`). WF-5: the channel's bookmarks are listed first
  (`bookmarks.list`) and one with the same title and link is returned instead of a second.

Every write is declared non-idempotent (only reads are). The calls whose repetition is
harmless (create, archive, set topic) still say `idempotent=True` to the client, so that a
Slack `internal_error` on them is retried instead of parked as an unknown outcome.
"""

from __future__ import annotations

from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.slack import client
from fireline.integrations.slack.schema import (
    AddBookmarkInput,
    ArchiveChannelInput,
    ArchiveChannelOutput,
    BookmarkOutput,
    Channel,
    ChannelTopicOutput,
    CreateIncidentChannelInput,
    DirectMessageOutput,
    IncidentChannelOutput,
    ListChannelsInput,
    ListChannelsOutput,
    PostMessageInput,
    PostMessageOutput,
    SendDirectMessageInput,
    SetChannelTopicInput,
)

# Slack recommends pages of no more than 200 conversations.
_PAGE = 200
# Looking a name up walks every channel: pages of Slack's maximum (1000), and at most this
# many of them (conversations.list is Tier 2, about 20 calls a minute).
_LOOKUP_PAGE = 1000
_LOOKUP_PAGES = 20


async def post_message(ctx: ToolContext, data: PostMessageInput) -> PostMessageOutput:
    body: dict[str, Any] = {"channel": data.channel, "text": data.text}
    if data.thread_ts is not None:
        body["thread_ts"] = data.thread_ts
    # chat.postMessage has no idempotency key: a retry may post twice, so it is declared
    # non-idempotent and an unknown outcome is parked rather than retried (WF-6).
    result = await client.call(ctx, "chat.postMessage", idempotent=False, json=body)
    return PostMessageOutput(channel=result["channel"], ts=result["ts"])


async def list_channels(ctx: ToolContext, data: ListChannelsInput) -> ListChannelsOutput:
    channels: list[Channel] = []
    cursor = ""
    while len(channels) < data.limit:
        params: dict[str, Any] = {
            "types": ",".join(data.types),
            "exclude_archived": "true" if data.exclude_archived else "false",
            "limit": min(_PAGE, data.limit - len(channels)),
        }
        if cursor:
            params["cursor"] = cursor
        page = await client.call(ctx, "conversations.list", idempotent=True, params=params)
        channels.extend(
            Channel(
                id=item["id"],
                name=item.get("name"),
                is_private=bool(item.get("is_private")),
                is_archived=bool(item.get("is_archived")),
                num_members=item.get("num_members"),
            )
            for item in page.get("channels", [])
        )
        # An empty next_cursor marks the last page.
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            break
    return ListChannelsOutput(channels=channels[: data.limit])


async def _channel_named(ctx: ToolContext, name: str) -> dict[str, Any] | None:
    cursor = ""
    for _ in range(_LOOKUP_PAGES):
        params: dict[str, Any] = {
            "types": "public_channel,private_channel",
            "exclude_archived": "false",
            "limit": _LOOKUP_PAGE,
        }
        if cursor:
            params["cursor"] = cursor
        page = await client.call(ctx, "conversations.list", idempotent=True, params=params)
        for item in page.get("channels", []):
            if item.get("name") == name:
                return dict(item)
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            break
    return None


async def create_incident_channel(
    ctx: ToolContext, data: CreateIncidentChannelInput
) -> IncidentChannelOutput:
    body = {"name": data.name, "is_private": data.is_private}
    result = await client.call(
        ctx, "conversations.create", idempotent=True, json=body, handled=frozenset({"name_taken"})
    )
    if result.get("ok") is True:
        channel, created = result["channel"], True
    else:
        found = await _channel_named(ctx, data.name)
        if found is None:
            raise PermanentError(
                f"Slack: the name #{data.name} is taken by a channel this bot cannot see"
            )
        if found.get("is_archived"):
            raise PermanentError(f"Slack: #{data.name} exists but is archived")
        channel, created = found, False
    return IncidentChannelOutput(
        id=channel["id"],
        name=channel["name"],
        is_private=bool(channel.get("is_private")),
        created=created,
    )


async def archive_channel(ctx: ToolContext, data: ArchiveChannelInput) -> ArchiveChannelOutput:
    result = await client.call(
        ctx,
        "conversations.archive",
        idempotent=True,
        json={"channel": data.channel},
        handled=frozenset({"already_archived"}),
    )
    return ArchiveChannelOutput(channel=data.channel, already_archived=result.get("ok") is not True)


async def send_direct_message(
    ctx: ToolContext, data: SendDirectMessageInput
) -> DirectMessageOutput:
    # One user: a 1:1 DM. Opening an open DM returns the same conversation.
    opened = await client.call(
        ctx, "conversations.open", idempotent=True, json={"users": data.user}
    )
    result = await client.call(
        ctx,
        "chat.postMessage",
        idempotent=False,
        json={"channel": opened["channel"]["id"], "text": data.text},
    )
    return DirectMessageOutput(channel=result["channel"], ts=result["ts"])


async def set_channel_topic(ctx: ToolContext, data: SetChannelTopicInput) -> ChannelTopicOutput:
    result = await client.call(
        ctx,
        "conversations.setTopic",
        idempotent=True,
        json={"channel": data.channel, "topic": data.topic},
    )
    topic = ((result.get("channel") or {}).get("topic") or {}).get("value", data.topic)
    return ChannelTopicOutput(channel=data.channel, topic=topic)


def _bookmark(item: dict[str, Any], *, created: bool) -> BookmarkOutput:
    return BookmarkOutput(
        id=item["id"],
        channel=item["channel_id"],
        title=item["title"],
        link=item["link"],
        created=created,
    )


async def add_bookmark(ctx: ToolContext, data: AddBookmarkInput) -> BookmarkOutput:
    # A channel holds at most 100 bookmarks: one call lists them all.
    listed = await client.call(
        ctx, "bookmarks.list", idempotent=True, params={"channel_id": data.channel}
    )
    for item in listed.get("bookmarks", []):
        if item.get("link") == data.link and item.get("title") == data.title:
            return _bookmark(item, created=False)
    body = {"channel_id": data.channel, "title": data.title, "type": "link", "link": data.link}
    result = await client.call(ctx, "bookmarks.add", idempotent=False, json=body)
    return _bookmark(result["bookmark"], created=True)


POST_MESSAGE = Action(
    name="post_message",
    title="Post Message",
    input=PostMessageInput,
    output=PostMessageOutput,
    idempotent=False,
    run=post_message,
)

LIST_CHANNELS = Action(
    name="list_channels",
    title="List Channels",
    input=ListChannelsInput,
    output=ListChannelsOutput,
    idempotent=True,
    run=list_channels,
)

CREATE_INCIDENT_CHANNEL = Action(
    name="create_incident_channel",
    title="Create Incident Channel",
    input=CreateIncidentChannelInput,
    output=IncidentChannelOutput,
    idempotent=False,
    run=create_incident_channel,
)

ARCHIVE_CHANNEL = Action(
    name="archive_channel",
    title="Archive Channel",
    input=ArchiveChannelInput,
    output=ArchiveChannelOutput,
    idempotent=False,
    run=archive_channel,
)

SEND_DIRECT_MESSAGE = Action(
    name="send_direct_message",
    title="Send Direct Message",
    input=SendDirectMessageInput,
    output=DirectMessageOutput,
    idempotent=False,
    run=send_direct_message,
)

SET_CHANNEL_TOPIC = Action(
    name="set_channel_topic",
    title="Set Channel Topic",
    input=SetChannelTopicInput,
    output=ChannelTopicOutput,
    idempotent=False,
    run=set_channel_topic,
)

ADD_BOOKMARK = Action(
    name="add_bookmark",
    title="Add Bookmark",
    input=AddBookmarkInput,
    output=BookmarkOutput,
    idempotent=False,
    run=add_bookmark,
)
