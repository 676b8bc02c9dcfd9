from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.integrations.fakes import azure_functions as fake
from tests.served.cases.base import ToolCase

HOST = "pd-remediation.azurewebsites.net"
KEY = "YXpmLXNlcnZlZC1mdW5jdGlvbi1rZXktOGMzZjE5YTI="


async def _restart(request: Request) -> Response:
    # Answers OPTIONS (CORS preflight) before any work, so the health check proves the key.
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": "OPTIONS, POST"})
    body = await request.json()
    return JSONResponse({"restarted": body["service"],
                         "idempotency_key": request.headers.get("idempotency-key")})


def _app() -> Any:
    return fake.make_app({"restart": fake.Function(keys={KEY}, methods={"OPTIONS", "POST"},
                                                   handler=_restart)})


def _check(outputs: dict[str, Any]) -> None:
    invoked = outputs["invoke_function"]
    assert invoked["status_code"] == 200
    assert invoked["truncated"] is False
    assert invoked["json_body"]["restarted"] == "checkout"
    assert invoked["json_body"]["idempotency_key"]  # the run's key reached the function
    assert KEY not in invoked["body"]


CASE = ToolCase(
    slug="azure_functions",
    fake=_app,
    hosts=(HOST,),
    config={"url": f"https://{HOST}/api/restart"},
    secrets={"api_key": KEY},
    steps=(("invoke_function", {"method": "POST", "body": {"service": "checkout"}}),),
    check=_check,
)
