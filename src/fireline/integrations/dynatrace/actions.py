"""Dynatrace: Search Logs — a DQL query through the Grail query API (reference text:
`POST …/platform/storage/query/v1/query:execute`, polling on `…/query:poll`).

A query that is still RUNNING is long-polled a bounded number of times; one that does not
finish in that budget is cancelled (freeing Grail) and reported as a transient failure rather
than an empty result.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fireline.core.clock import isoformat
from fireline.core.errors import IntegrationError, PermanentError, TransientError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.dynatrace import client
from fireline.integrations.dynatrace.schema import SearchLogsInput, SearchLogsOutput

# Grail answers within this long when it can; otherwise it hands back a request token.
_WAIT_MS = 5_000
_MAX_POLLS = 24  # about two minutes of long polling


def _body(data: SearchLogsInput) -> dict[str, Any]:
    body: dict[str, Any] = {
        "query": data.query,
        "maxResultRecords": data.max_records,
        "requestTimeoutMilliseconds": _WAIT_MS,
        "timezone": "UTC",
        "locale": "en_US",
    }
    if data.timeframe_start:
        body["defaultTimeframeStart"] = isoformat(data.timeframe_start)
    if data.timeframe_end:
        body["defaultTimeframeEnd"] = isoformat(data.timeframe_end)
    return body


def _finished(answer: dict[str, Any]) -> SearchLogsOutput:
    state = str(answer.get("state", "UNKNOWN"))
    if state != "SUCCEEDED":
        error = answer.get("error") or {}
        message = error.get("message") if isinstance(error, dict) else None
        raise PermanentError(f"Dynatrace query ended {state}" + (f": {message}" if message else ""))
    records = (answer.get("result") or {}).get("records") or []
    return SearchLogsOutput(records=records, record_count=len(records), state=state)


async def search_logs(ctx: ToolContext, data: SearchLogsInput) -> SearchLogsOutput:
    token = await client.access_token(ctx)
    answer = await client.execute(ctx, token, _body(data))
    polls = 0
    while answer.get("state") in ("RUNNING", "NOT_STARTED"):
        request_token = answer.get("requestToken")
        if not isinstance(request_token, str):
            raise PermanentError("Dynatrace answered RUNNING without a request token")
        if polls >= _MAX_POLLS:
            # Best effort: the query's result would expire anyway.
            with contextlib.suppress(IntegrationError):
                await client.cancel(ctx, token, request_token)
            raise TransientError("Dynatrace query did not finish in time")
        answer = await client.poll(ctx, token, request_token, _WAIT_MS)
        # Poll answers do not repeat the request token: keep using the one we were given.
        answer.setdefault("requestToken", request_token)
        polls += 1
    return _finished(answer)


SEARCH_LOGS = Action(
    name="search_logs",
    title="Search Logs",
    input=SearchLogsInput,
    output=SearchLogsOutput,
    idempotent=True,
    run=search_logs,
)
