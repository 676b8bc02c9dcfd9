"""Azure Functions: Invoke Function — one HTTP request to the function with a JSON body.
Not idempotent: the run's key is sent as `Idempotency-Key` so a function can deduplicate
retries (WF-5)."""

from __future__ import annotations

import json
from typing import Any

from fireline.core.redaction import REDACTED
from fireline.integrations.azure_functions import client
from fireline.integrations.azure_functions.schema import (
    BODY_LIMIT,
    InvokeFunctionInput,
    InvokeFunctionOutput,
)
from fireline.integrations.base import Action, ToolContext


async def invoke_function(ctx: ToolContext, data: InvokeFunctionInput) -> InvokeFunctionOutput:
    extra = {"Accept": "application/json"}
    if ctx.idempotency_key:
        extra["Idempotency-Key"] = ctx.idempotency_key
    response = await client.call(ctx, data.method, idempotent=False, extra=extra, json=data.body)
    raw = response.content
    truncated = len(raw) > BODY_LIMIT
    text = raw[:BODY_LIMIT].decode(response.encoding or "utf-8", "replace")
    # A function that echoes its request must not put the key into the run's output.
    text = text.replace(client.headers(ctx)["x-functions-key"], REDACTED)
    parsed: Any = None
    if text and not truncated:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    return InvokeFunctionOutput(
        status_code=response.status_code, body=text, truncated=truncated, json_body=parsed
    )


INVOKE_FUNCTION = Action(
    name="invoke_function",
    title="Invoke Function",
    input=InvokeFunctionInput,
    output=InvokeFunctionOutput,
    idempotent=False,
    run=invoke_function,
)
