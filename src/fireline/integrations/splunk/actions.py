"""Splunk: Search — a oneshot search job (`POST /services/search/v2/jobs`,
`exec_mode=oneshot`) over a time window, returning up to `count` results."""

from __future__ import annotations

from fireline.integrations.base import Action, ToolContext
from fireline.integrations.splunk import client
from fireline.integrations.splunk.schema import SearchInput, SearchOutput


def spl(query: str) -> str:
    # The REST API runs the text as given; SPL typed in Splunk Web gets an implicit `search`.
    text = query.strip()
    if text.startswith("|") or text.split(maxsplit=1)[0].lower() == "search":
        return text
    return f"search {text}"


async def search(ctx: ToolContext, data: SearchInput) -> SearchOutput:
    body = await client.oneshot(
        ctx,
        {
            "search": spl(data.query),
            "earliest_time": data.earliest_time,
            "latest_time": data.latest_time,
            "count": str(data.count),
        },
    )
    results = list(body.get("results") or [])[: data.count]
    return SearchOutput(count=len(results), results=results, messages=body.get("messages") or [])


SEARCH = Action(
    name="search",
    title="Search",
    input=SearchInput,
    output=SearchOutput,
    idempotent=True,
    run=search,
)
