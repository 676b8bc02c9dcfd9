"""Web API actions: one request to a URL on an allowed hostname, with the connection's
authentication headers, optional non-secret headers and a JSON or text body.

- Send GET / HEAD / PUT / DELETE Request: idempotent by HTTP semantics (RFC 9110 §9.2.2), so
  the engine may retry them; they carry no `Idempotency-Key`.
- Send POST / PATCH Request and Send Webhook POST (a JSON payload, by default the incident as
  JSON): not idempotent. WF-5: they carry `Idempotency-Key: <run id>:<step id>`, the same on
  every retry of the step, so an API that honours the header (Stripe-style, or the IETF
  httpapi Idempotency-Key draft) answers a retry with the first result instead of acting
  twice. An API that ignores the header may act twice on a retry after a lost answer.
- HTTP Request (`http_request`, a method input): the original action, kept for existing
  definitions. It is declared non-idempotent whatever the method; POST, PATCH and DELETE carry
  `Idempotency-Key`.

All share one code path. The output never contains the authentication headers: response
headers of the same name and any echo of their values are redacted.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fireline.core.errors import PermanentError
from fireline.core.redaction import REDACTED
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.web_api import client
from fireline.integrations.web_api.headers import check_extra_headers
from fireline.integrations.web_api.schema import (
    BODY_LIMIT,
    HttpRequestInput,
    HttpRequestOutput,
    SendBodyRequestInput,
    SendRequestInput,
    SendWebhookPostInput,
)

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]

# `http_request` keeps its original rule: these methods carry Idempotency-Key.
_KEYED_BY_HTTP_REQUEST = frozenset({"POST", "PATCH", "DELETE"})


async def _send(
    ctx: ToolContext,
    method: Method,
    raw_url: str,
    extra_headers: dict[str, str],
    *,
    idempotent: bool,
    json_body: Any = None,
    text_body: str | None = None,
) -> HttpRequestOutput:
    url = client.allowed_url(ctx, raw_url)
    auth = client.auth_headers(ctx)
    auth_names = frozenset(name.lower() for name in auth)
    try:
        headers = check_extra_headers(extra_headers, auth_names | {"idempotency-key"})
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    if not idempotent and ctx.idempotency_key:
        headers["Idempotency-Key"] = ctx.idempotency_key  # WF-5
    content: bytes | None = None
    if text_body is not None:
        content = text_body.encode()
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    response = await client.send(
        ctx, method, url, idempotent=idempotent, headers=headers, json=json_body, content=content
    )
    forms = client.secret_forms(ctx)
    out_headers = {
        name: REDACTED if name.lower() in auth_names else client.redact(value, forms)
        for name, value in response.headers.items()
    }
    raw = response.content
    truncated = len(raw) > BODY_LIMIT
    body = client.redact(raw[:BODY_LIMIT].decode(response.encoding or "utf-8", "replace"), forms)
    parsed: Any = None
    if body and not truncated:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    return HttpRequestOutput(
        status_code=response.status_code,
        headers=out_headers,
        body=body,
        truncated=truncated,
        json_body=parsed,
    )


async def http_request(ctx: ToolContext, data: HttpRequestInput) -> HttpRequestOutput:
    return await _send(
        ctx,
        data.method,
        data.url,
        data.headers,
        idempotent=data.method not in _KEYED_BY_HTTP_REQUEST,
        json_body=data.json_body,
        text_body=data.text_body,
    )


HTTP_REQUEST = Action(
    name="http_request",
    title="HTTP Request",
    input=HttpRequestInput,
    output=HttpRequestOutput,
    idempotent=False,
    run=http_request,
)


def _request_action(
    name: str, title: str, method: Method, model: type[SendRequestInput], *, idempotent: bool
) -> Action:
    async def run(ctx: ToolContext, data: SendRequestInput) -> HttpRequestOutput:
        json_body, text_body = data.request_body()
        return await _send(
            ctx,
            method,
            data.url,
            data.headers,
            idempotent=idempotent,
            json_body=json_body,
            text_body=text_body,
        )

    return Action(
        name=name,
        title=title,
        input=model,
        output=HttpRequestOutput,
        idempotent=idempotent,
        run=run,
    )


SEND_GET_REQUEST = _request_action(
    "send_get_request", "Send GET Request", "GET", SendRequestInput, idempotent=True
)
SEND_HEAD_REQUEST = _request_action(
    "send_head_request", "Send HEAD Request", "HEAD", SendRequestInput, idempotent=True
)
SEND_PUT_REQUEST = _request_action(
    "send_put_request", "Send PUT Request", "PUT", SendBodyRequestInput, idempotent=True
)
SEND_DELETE_REQUEST = _request_action(
    "send_delete_request", "Send DELETE Request", "DELETE", SendRequestInput, idempotent=True
)
SEND_POST_REQUEST = _request_action(
    "send_post_request", "Send POST Request", "POST", SendBodyRequestInput, idempotent=False
)
SEND_PATCH_REQUEST = _request_action(
    "send_patch_request", "Send PATCH Request", "PATCH", SendBodyRequestInput, idempotent=False
)
# The body is sent with `json=`: Content-Type application/json unless a header says otherwise.
SEND_WEBHOOK_POST = _request_action(
    "send_webhook_post", "Send Webhook POST", "POST", SendWebhookPostInput, idempotent=False
)
