"""Slack actions: Post Message (`chat.postMessage`) and List Channels (`conversations.list`,
cursor-paginated)."""

from __future__ import annotations

from typing import Any

from fireline.integrations.base import Action, ToolContext
from fireline.integrations.slack import client
from fireline.integrations.slack.schema import (
    Channel,
    ListChannelsInput,
    ListChannelsOutput,
    PostMessageInput,
    PostMessageOutput,
)

# Slack recommends pages of no more than 200 conversations.
_PAGE = 200


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
