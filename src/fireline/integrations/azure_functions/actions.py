"""Azure Functions: Invoke Function — one HTTP request to the function URL with the chosen
method (GET, POST, PUT, PATCH or DELETE; POST when not given) and a JSON body (none with
GET). The function key goes in `x-functions-key` (client.py).

Idempotency: only a GET is safe to repeat (RFC 9110 §9.2.1), so only a GET is sent to egress
as idempotent (transport failures are retried there). The action as a whole is declared not
idempotent, since an action's declaration cannot depend on its inputs and four of its five
methods write. WF-5: Azure Functions has no idempotency mechanism of its own; the run's key
is sent as `Idempotency-Key` with every method, so a function can deduplicate retries.
"""

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
    response = await client.call(
        ctx, data.method, idempotent=data.method == "GET", extra=extra, json=data.body
    )
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
