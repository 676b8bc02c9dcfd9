"""Web API: HTTP Request — one request to a URL on an allowed hostname, with the
connection's authentication headers, optional non-secret headers and a JSON or text body.

POST, PATCH and DELETE are treated as non-idempotent: they carry `Idempotency-Key` (WF-5)
and are not retried blindly. The output never contains the authentication headers: response
headers of the same name and any echo of their values are redacted.
"""

from __future__ import annotations

import json
from typing import Any

from fireline.core.errors import PermanentError
from fireline.core.redaction import REDACTED
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.web_api import client
from fireline.integrations.web_api.headers import check_extra_headers
from fireline.integrations.web_api.schema import BODY_LIMIT, HttpRequestInput, HttpRequestOutput

_NON_IDEMPOTENT = frozenset({"POST", "PATCH", "DELETE"})


async def http_request(ctx: ToolContext, data: HttpRequestInput) -> HttpRequestOutput:
    url = client.allowed_url(ctx, data.url)
    auth = client.auth_headers(ctx)
    protected = frozenset(name.lower() for name in auth) | {"idempotency-key"}
    try:
        headers = check_extra_headers(data.headers, protected)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    idempotent = data.method not in _NON_IDEMPOTENT
    if not idempotent and ctx.idempotency_key:
        headers["Idempotency-Key"] = ctx.idempotency_key
    content: bytes | None = None
    if data.text_body is not None:
        content = data.text_body.encode()
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    response = await client.send(
        ctx,
        data.method,
        url,
        idempotent=idempotent,
        headers=headers,
        json=data.json_body,
        content=content,
    )
    forms = client.secret_forms(ctx)
    auth_names = {name.lower() for name in auth}
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


HTTP_REQUEST = Action(
    name="http_request",
    title="HTTP Request",
    input=HttpRequestInput,
    output=HttpRequestOutput,
    idempotent=False,
    run=http_request,
)
