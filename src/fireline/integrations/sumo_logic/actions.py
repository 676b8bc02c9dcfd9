"""Sumo Logic: Search Logs — through the Search Job API: create a job
(`POST /api/v1/search/jobs`), poll `GET /api/v1/search/jobs/{id}` until DONE GATHERING RESULTS,
page `…/messages` (and `…/records` for aggregate queries), and always DELETE the job to free
it. Polling backs off and is bounded; a job that does not finish is a transient failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import quote

from fireline.core.errors import IntegrationError, PermanentError, TransientError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.sumo_logic import client
from fireline.integrations.sumo_logic.schema import SearchLogsInput, SearchLogsOutput

_JOBS = "/api/v1/search/jobs"
_DONE = "DONE GATHERING RESULTS"
_FIRST_WAIT, _MAX_WAIT, _BUDGET = 0.25, 5.0, 120.0
_PAGE_MAX = 10_000  # the messages/records endpoints' largest page


def _epoch_ms(data: SearchLogsInput) -> tuple[int, int]:
    start, end = data.window()
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


async def _wait(ctx: ToolContext, job: str, cookies: str | None) -> dict[str, Any]:
    waited, pause = 0.0, _FIRST_WAIT
    while True:
        status: dict[str, Any] = (
            await client.call(ctx, "GET", f"{_JOBS}/{job}", cookies=cookies)
        ).json()
        state = status.get("state")
        if state == _DONE:
            return status
        if state == "CANCELLED":
            raise PermanentError("Sumo Logic cancelled the search job")
        if waited >= _BUDGET:
            raise TransientError("Sumo Logic search job did not finish in time")
        await asyncio.sleep(pause)
        waited, pause = waited + pause, min(pause * 2, _MAX_WAIT)


async def _page(
    ctx: ToolContext, job: str, kind: str, count: int, cookies: str | None
) -> list[dict[str, Any]]:
    if count <= 0:
        return []
    answer = (
        await client.call(
            ctx,
            "GET",
            f"{_JOBS}/{job}/{kind}",
            cookies=cookies,
            params={"offset": 0, "limit": min(count, _PAGE_MAX)},
        )
    ).json()
    return [item.get("map") or {} for item in answer.get(kind) or []]


async def search_logs(ctx: ToolContext, data: SearchLogsInput) -> SearchLogsOutput:
    start, end = _epoch_ms(data)
    created = await client.call(
        ctx,
        "POST",
        _JOBS,
        idempotent=False,  # each POST starts another job; a blind retry would leak one
        json={
            "query": data.query,
            "from": start,
            "to": end,
            "timeZone": "UTC",
            "byReceiptTime": data.by_receipt_time,
            # Since 2025 Sumo Logic skips raw messages unless asked; a log search wants them.
            "requiresRawMessages": True,
        },
    )
    # The id comes from upstream and goes into our paths: keep it a single path segment.
    job = quote(str(created.json().get("id", "")), safe="")
    if not job:
        raise PermanentError("Sumo Logic did not return a search job id")
    cookies = client.session_cookies(created)
    try:
        status = await _wait(ctx, job, cookies)
        message_total = int(status.get("messageCount") or 0)
        record_total = int(status.get("recordCount") or 0)
        messages = await _page(ctx, job, "messages", min(data.limit, message_total), cookies)
        records = await _page(ctx, job, "records", min(data.limit, record_total), cookies)
    finally:
        # The job expires on its own: a failed cleanup must not hide the search's outcome.
        with contextlib.suppress(IntegrationError):
            await client.call(ctx, "DELETE", f"{_JOBS}/{job}", cookies=cookies)
    return SearchLogsOutput(
        state=str(status.get("state")),
        message_count=message_total,
        messages=messages,
        record_count=record_total,
        records=records,
    )


SEARCH_LOGS = Action(
    name="search_logs",
    title="Search Logs",
    input=SearchLogsInput,
    output=SearchLogsOutput,
    idempotent=True,  # a search changes nothing the user sees; the job is deleted afterwards
    run=search_logs,
)
