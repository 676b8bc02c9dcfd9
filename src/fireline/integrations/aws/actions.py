"""AWS actions (reference text, "Common Workflow Actions and Required Permissions"):

- Query CloudWatch Logs: `logs:DescribeLogGroups` (the group must exist), then
  `logs:FilterLogEvents` with the filter pattern over the time window, following `nextToken`
  up to the limit; or `logs:GetLogEvents` when one stream is asked for without a pattern.
- Invoke Lambda Function: `lambda:GetFunction` (the function must exist), then
  `lambda:InvokeFunction` with the JSON payload. Not idempotent: the run's idempotency key
  travels in the invocation's client context (`context.client_context.custom`) so that a
  function can deduplicate (WF-5).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fireline.core.errors import PermanentError
from fireline.integrations.aws import client
from fireline.integrations.aws.schema import (
    InvokeLambdaInput,
    InvokeLambdaOutput,
    LogEvent,
    QueryCloudwatchLogsInput,
    QueryCloudwatchLogsOutput,
)
from fireline.integrations.base import Action, ToolContext

_MAX_PAGES = 50  # FilterLogEvents may return empty pages with a token; stop somewhere
_PAYLOAD_LIMIT = 256 * 1024
_LAMBDA_READ_TIMEOUT = 120


def _millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _event(raw: dict[str, Any], stream: str | None = None) -> LogEvent:
    return LogEvent(
        timestamp=datetime.fromtimestamp(raw["timestamp"] / 1000, tz=UTC),
        message=raw.get("message", ""),
        log_stream_name=raw.get("logStreamName") or stream or "",
    )


def _require_group(logs: Any, name: str) -> None:
    token: str | None = None
    for _ in range(_MAX_PAGES):
        kwargs: dict[str, Any] = {"logGroupNamePrefix": name}
        if token:
            kwargs["nextToken"] = token
        page = client.call("DescribeLogGroups", partial(logs.describe_log_groups, **kwargs))
        if any(group.get("logGroupName") == name for group in page.get("logGroups", [])):
            return
        token = page.get("nextToken")
        if not token:
            break
    raise PermanentError(f"log group {name!r} does not exist in this region")


def _filter(logs: Any, data: QueryCloudwatchLogsInput) -> tuple[list[LogEvent], bool]:
    start, end = data.window()
    events: list[LogEvent] = []
    token: str | None = None
    for _ in range(_MAX_PAGES):
        kwargs: dict[str, Any] = {
            "logGroupName": data.log_group_name,
            "startTime": _millis(start),
            "endTime": _millis(end),
            "limit": data.limit - len(events),
        }
        if data.filter_pattern:
            kwargs["filterPattern"] = data.filter_pattern
        if data.log_stream_name:
            kwargs["logStreamNames"] = [data.log_stream_name]
        if token:
            kwargs["nextToken"] = token
        page = client.call("FilterLogEvents", partial(logs.filter_log_events, **kwargs))
        events.extend(_event(raw) for raw in page.get("events", []))
        token = page.get("nextToken")
        if not token or len(events) >= data.limit:
            break
    return events[: data.limit], bool(token)


def _stream(logs: Any, data: QueryCloudwatchLogsInput) -> tuple[list[LogEvent], bool]:
    start, end = data.window()
    stream = data.log_stream_name or ""
    events: list[LogEvent] = []
    token: str | None = None
    for _ in range(_MAX_PAGES):
        kwargs: dict[str, Any] = {
            "logGroupName": data.log_group_name,
            "logStreamName": stream,
            "startTime": _millis(start),
            "endTime": _millis(end),
            "limit": data.limit - len(events),
            "startFromHead": True,
        }
        if token:
            kwargs["nextToken"] = token
        page = client.call("GetLogEvents", partial(logs.get_log_events, **kwargs))
        batch = page.get("events", [])
        events.extend(_event(raw, stream) for raw in batch)
        # The forward token repeats once the end of the stream is reached.
        following = page.get("nextForwardToken")
        if not batch or following == token or len(events) >= data.limit:
            break
        token = following
    return events[: data.limit], len(events) >= data.limit


async def query_cloudwatch_logs(
    ctx: ToolContext, data: QueryCloudwatchLogsInput
) -> QueryCloudwatchLogsOutput:
    def work(role: client.RoleSession) -> tuple[list[LogEvent], bool]:
        logs = role.client("logs")
        _require_group(logs, data.log_group_name)
        if data.log_stream_name and not data.filter_pattern:
            return _stream(logs, data)
        return _filter(logs, data)

    events, truncated = await client.run(ctx, work)
    return QueryCloudwatchLogsOutput(events=events, count=len(events), truncated=truncated)


def _client_context(key: str | None) -> str | None:
    if not key:
        return None
    # Lambda: base64 of a JSON object, at most 3583 bytes; `custom` reaches the handler.
    return base64.b64encode(json.dumps({"custom": {"idempotency_key": key}}).encode()).decode()


def _payload(raw: bytes) -> Any:
    if len(raw) > _PAYLOAD_LIMIT:
        return raw[:_PAYLOAD_LIMIT].decode("utf-8", "replace")
    text = raw.decode("utf-8", "replace")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


async def invoke_lambda(ctx: ToolContext, data: InvokeLambdaInput) -> InvokeLambdaOutput:
    def work(role: client.RoleSession) -> InvokeLambdaOutput:
        functions = role.client("lambda", read_timeout=_LAMBDA_READ_TIMEOUT)
        selector: dict[str, Any] = {"FunctionName": data.function_name}
        if data.qualifier:
            selector["Qualifier"] = data.qualifier
        client.call("GetFunction", partial(functions.get_function, **selector))
        request: dict[str, Any] = {
            **selector,
            "InvocationType": data.invocation_type,
            "Payload": json.dumps(data.payload).encode(),
        }
        if (context := _client_context(ctx.idempotency_key)) is not None:
            request["ClientContext"] = context
        answer = client.call("Invoke", partial(functions.invoke, **request))
        body = answer.get("Payload")
        return InvokeLambdaOutput(
            status_code=int(answer.get("StatusCode", 0)),
            function_error=answer.get("FunctionError"),
            executed_version=answer.get("ExecutedVersion"),
            payload=_payload(body.read() if body is not None else b""),
        )

    return await client.run(ctx, work)


QUERY_CLOUDWATCH_LOGS = Action(
    name="query_cloudwatch_logs",
    title="Query CloudWatch Logs",
    input=QueryCloudwatchLogsInput,
    output=QueryCloudwatchLogsOutput,
    idempotent=True,
    run=query_cloudwatch_logs,
)

INVOKE_LAMBDA = Action(
    name="invoke_lambda",
    title="Invoke Lambda Function",
    input=InvokeLambdaInput,
    output=InvokeLambdaOutput,
    idempotent=False,
    run=invoke_lambda,
)
