from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.integrations.fakes import azure_functions as fake
from tests.served.cases.base import ToolCase

HOST = "pd-remediation.azurewebsites.net"
KEY = "YXpmLXNlcnZlZC1mdW5jdGlvbi1rZXktOGMzZjE5YTI="


# What the function was asked to do: (method, body, Idempotency-Key) of each invocation.
RESTARTS: list[tuple[str, Any, str | None]] = []


async def _restart(request: Request) -> Response:
    # Answers OPTIONS (CORS preflight) before any work, so the health check proves the key.
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": "OPTIONS, GET, POST"})
    body = await request.json() if request.method == "POST" else None
    RESTARTS.append((request.method, body, request.headers.get("idempotency-key")))
    if request.method == "GET":  # the restart's status: reads, changes nothing
        done = [b["service"] for method, b, _ in RESTARTS if method == "POST"]
        return JSONResponse({"restarted": done, "idempotency_key":
                             request.headers.get("idempotency-key")})
    return JSONResponse({"restarted": body["service"],
                         "idempotency_key": request.headers.get("idempotency-key")})


def _app() -> Any:
    return fake.make_app({"restart": fake.Function(
        keys={KEY}, methods={"OPTIONS", "GET", "POST"}, handler=_restart)})


def _check(outputs: dict[str, Any]) -> None:
    # Two steps invoke the function, POST then GET; `outputs` holds the last (the GET).
    invoked = outputs["invoke_function"]
    assert invoked["status_code"] == 200
    assert invoked["truncated"] is False
    assert invoked["json_body"]["restarted"] == ["checkout"]
    assert KEY not in invoked["body"]
    (post, post_body, post_key), (get, get_body, get_key) = RESTARTS
    assert (post, post_body, get, get_body) == ("POST", {"service": "checkout"}, "GET", None)
    # The run's key reached the function, one per step (WF-5: `run_id:step_id`).
    assert post_key and get_key and post_key != get_key
    assert invoked["json_body"]["idempotency_key"] == get_key


CASE = ToolCase(
    slug="azure_functions",
    fake=_app,
    hosts=(HOST,),
    config={"url": f"https://{HOST}/api/restart"},
    secrets={"api_key": KEY},
    steps=(
        ("invoke_function", {"method": "POST", "body": {"service": "checkout"}}),
        ("invoke_function", {"method": "GET"}),
    ),
    check=_check,
)
