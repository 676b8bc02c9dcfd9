"""AWS actions (reference text, "Common Workflow Actions and Required Permissions"):

- Query CloudWatch Logs: `logs:DescribeLogGroups` (the group must exist), then
  `logs:FilterLogEvents` with the filter pattern over the time window, following `nextToken`
  up to the limit; or `logs:GetLogEvents` when one stream is asked for without a pattern.
- Invoke Lambda Function: `lambda:GetFunction` (the function must exist), then
  `lambda:InvokeFunction` with the JSON payload. Not idempotent: the run's idempotency key
  travels in the invocation's client context (`context.client_context.custom`) so that a
  function can deduplicate (WF-5).
- List Lambda Functions: `lambda:ListFunctions`, following `NextMarker` (at most 50 a page)
  up to the limit.
- Describe Lambda Function: `lambda:GetFunction` — the permission the reference text's Lambda
  policy grants — for the configuration, tags and reserved concurrency. The code's download
  URL (a presigned link) and environment variable values are never part of the output.
- Get CloudWatch Log Events: `logs:GetLogEvents` for one stream over an optional time window,
  newest first unless `start_from_head`, following the forward or backward token up to the
  limit.

All but Invoke are read-only (idempotent).
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
    DescribeLambdaFunctionInput,
    DescribeLambdaFunctionOutput,
    GetLogEventsInput,
    InvokeLambdaInput,
    InvokeLambdaOutput,
    LambdaFunction,
    ListLambdaFunctionsInput,
    ListLambdaFunctionsOutput,
    LogEvent,
    QueryCloudwatchLogsInput,
    QueryCloudwatchLogsOutput,
)
from fireline.integrations.base import Action, ToolContext

_MAX_PAGES = 50  # FilterLogEvents may return empty pages with a token; stop somewhere
_FUNCTIONS_PAGE = 50  # ListFunctions returns at most 50 functions a page, whatever MaxItems
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


def read_stream(
    logs: Any,
    group: str,
    stream: str,
    *,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    from_head: bool,
) -> tuple[list[LogEvent], bool]:
    """GetLogEvents for one stream: pages forward from the oldest event, or backward from
    the newest; the events come back oldest first either way."""
    direction = "nextForwardToken" if from_head else "nextBackwardToken"
    pages: list[list[LogEvent]] = []
    count = 0
    token: str | None = None
    for _ in range(_MAX_PAGES):
        kwargs: dict[str, Any] = {
            "logGroupName": group,
            "logStreamName": stream,
            "limit": limit - count,
            "startFromHead": from_head,
        }
        if start is not None:
            kwargs["startTime"] = _millis(start)
        if end is not None:
            kwargs["endTime"] = _millis(end)
        if token:
            kwargs["nextToken"] = token
        page = client.call("GetLogEvents", partial(logs.get_log_events, **kwargs))
        batch = [_event(raw, stream) for raw in page.get("events", [])]
        pages.append(batch)
        count += len(batch)
        # The token repeats once the end (or the start) of the stream is reached.
        following = page.get(direction)
        if not batch or following == token or count >= limit:
            break
        token = following
    ordered = pages if from_head else pages[::-1]
    events = [event for batch in ordered for event in batch]
    return (events[:limit] if from_head else events[-limit:]), count >= limit


async def query_cloudwatch_logs(
    ctx: ToolContext, data: QueryCloudwatchLogsInput
) -> QueryCloudwatchLogsOutput:
    def work(role: client.RoleSession) -> tuple[list[LogEvent], bool]:
        logs = role.client("logs")
        _require_group(logs, data.log_group_name)
        if data.log_stream_name and not data.filter_pattern:
            start, end = data.window()
            return read_stream(
                logs,
                data.log_group_name,
                data.log_stream_name,
                start=start,
                end=end,
                limit=data.limit,
                from_head=True,
            )
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


async def get_cloudwatch_log_events(
    ctx: ToolContext, data: GetLogEventsInput
) -> QueryCloudwatchLogsOutput:
    start, end = data.window()

    def work(role: client.RoleSession) -> tuple[list[LogEvent], bool]:
        return read_stream(
            role.client("logs"),
            data.log_group_name,
            data.log_stream_name,
            start=start,
            end=end,
            limit=data.limit,
            from_head=data.start_from_head,
        )

    events, truncated = await client.run(ctx, work)
    return QueryCloudwatchLogsOutput(events=events, count=len(events), truncated=truncated)


def _function(raw: dict[str, Any]) -> LambdaFunction:
    return LambdaFunction(
        function_name=raw["FunctionName"],
        function_arn=raw["FunctionArn"],
        runtime=raw.get("Runtime"),
        handler=raw.get("Handler"),
        description=raw.get("Description", ""),
        role=raw.get("Role"),
        memory_size=raw.get("MemorySize"),
        timeout=raw.get("Timeout"),
        code_size=raw.get("CodeSize"),
        last_modified=raw.get("LastModified"),
        version=raw.get("Version"),
        package_type=raw.get("PackageType"),
        architectures=list(raw.get("Architectures", [])),
        # Names only: the values are the function's configuration secrets more often than not.
        environment_variable_names=sorted((raw.get("Environment") or {}).get("Variables") or {}),
        state=raw.get("State"),
        state_reason=raw.get("StateReason"),
        last_update_status=raw.get("LastUpdateStatus"),
    )


def list_functions(functions: Any, limit: int) -> tuple[list[LambdaFunction], bool]:
    """ListFunctions pages up to `limit` functions; True when the region has more."""
    found: list[dict[str, Any]] = []
    marker: str | None = None
    for _ in range(_MAX_PAGES):
        kwargs: dict[str, Any] = {"MaxItems": min(_FUNCTIONS_PAGE, limit - len(found))}
        if marker:
            kwargs["Marker"] = marker
        page = client.call("ListFunctions", partial(functions.list_functions, **kwargs))
        found.extend(page.get("Functions", []))
        marker = page.get("NextMarker")
        if not marker or len(found) >= limit:
            break
    return [_function(raw) for raw in found[:limit]], len(found) > limit or bool(marker)


async def list_lambda_functions(
    ctx: ToolContext, data: ListLambdaFunctionsInput
) -> ListLambdaFunctionsOutput:
    def work(role: client.RoleSession) -> tuple[list[LambdaFunction], bool]:
        return list_functions(role.client("lambda"), data.limit)

    functions, truncated = await client.run(ctx, work)
    return ListLambdaFunctionsOutput(functions=functions, count=len(functions), truncated=truncated)


async def describe_lambda_function(
    ctx: ToolContext, data: DescribeLambdaFunctionInput
) -> DescribeLambdaFunctionOutput:
    def work(role: client.RoleSession) -> dict[str, Any]:
        selector: dict[str, Any] = {"FunctionName": data.function_name}
        if data.qualifier:
            selector["Qualifier"] = data.qualifier
        functions = role.client("lambda")
        answer: dict[str, Any] = client.call(
            "GetFunction", partial(functions.get_function, **selector)
        )
        return answer

    answer = await client.run(ctx, work)
    # `Code.Location` is a presigned download link to the code: deliberately not read.
    return DescribeLambdaFunctionOutput(
        function=_function(answer["Configuration"]),
        tags=dict(answer.get("Tags") or {}),
        reserved_concurrent_executions=(answer.get("Concurrency") or {}).get(
            "ReservedConcurrentExecutions"
        ),
    )


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

GET_CLOUDWATCH_LOG_EVENTS = Action(
    name="get_cloudwatch_log_events",
    title="Get CloudWatch Log Events",
    input=GetLogEventsInput,
    output=QueryCloudwatchLogsOutput,
    idempotent=True,
    run=get_cloudwatch_log_events,
)

LIST_LAMBDA_FUNCTIONS = Action(
    name="list_lambda_functions",
    title="List Lambda Functions",
    input=ListLambdaFunctionsInput,
    output=ListLambdaFunctionsOutput,
    idempotent=True,
    run=list_lambda_functions,
)

DESCRIBE_LAMBDA_FUNCTION = Action(
    name="describe_lambda_function",
    title="Describe Lambda Function",
    input=DescribeLambdaFunctionInput,
    output=DescribeLambdaFunctionOutput,
    idempotent=True,
    run=describe_lambda_function,
)
