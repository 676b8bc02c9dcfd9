from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.core.redaction import REDACTED
from fireline.integrations.azure_functions import INTEGRATION
from fireline.integrations.azure_functions.schema import (
    InvokeFunctionInput,
    InvokeFunctionOutput,
)
from fireline.integrations.base import ToolContext
from tests.integrations.fakes import azure_functions as fake
from tests.integrations.support import FakeServer, serve, tool_context

HOST = "pd-remediation.azurewebsites.net"
KEY = "Zm5rZXktOTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ=="
RESTARTS: dict[str, dict[str, Any]] = {}


async def _restart(request: Request) -> Response:
    replay = request.headers.get("idempotency-key")
    if replay and replay in RESTARTS:
        return JSONResponse(RESTARTS[replay])
    body = await request.json()
    result = {"restarted": body["service"], "count": len(RESTARTS) + 1}
    if replay:
        RESTARTS[replay] = result
    return JSONResponse(result)


async def _echo(request: Request) -> Response:
    return JSONResponse(
        {
            "method": request.method,
            "headers": dict(request.headers),
            "query": dict(request.query_params),
            "body": (await request.body()).decode(),
        }
    )


async def _preflight(request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": "OPTIONS, POST"})
    return JSONResponse({"ok": True})


FUNCTIONS = {
    "restart": fake.Function(keys={KEY}, methods={"GET", "POST"}, handler=_restart),
    "echo": fake.Function(
        keys={KEY}, methods={"GET", "POST", "PUT", "PATCH", "DELETE"}, handler=_echo
    ),
    "cors": fake.Function(keys={KEY}, methods={"OPTIONS", "POST"}, handler=_preflight),
}


@pytest.fixture(scope="module")
def app(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeServer]:
    with serve(fake.make_app(FUNCTIONS), ca, tmp_path_factory.mktemp("azf"), HOST) as server:
        yield server


def _ctx(
    app: FakeServer, ca: trustme.CA, function: str, *, key: str = KEY, run: str = "run-1:fix"
) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"url": f"https://{HOST}/api/{function}"},
        secrets={"api_key": key},
        routes=app.routes(443),
        ca=ca,
        idempotency_key=run,
    )


async def _invoke(ctx: ToolContext, **data: Any) -> InvokeFunctionOutput:
    action = INTEGRATION.action("invoke_function")
    assert action is not None and action.idempotent is False
    output = await action.run(ctx, InvokeFunctionInput.model_validate(data))
    assert isinstance(output, InvokeFunctionOutput)
    return output


async def test_verify_healthy_when_the_key_is_accepted(app: FakeServer, ca: trustme.CA) -> None:
    message = await INTEGRATION.verify(_ctx(app, ca, "cors"))
    assert message == "Function reachable and key accepted (OPTIONS answered 204)"


async def test_verify_wrong_key_is_a_credential_error(app: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(CredentialError):
        await INTEGRATION.verify(_ctx(app, ca, "cors", key="wrong-key"))


async def test_verify_never_invokes_a_function_that_does_not_answer_options(
    app: FakeServer, ca: trustme.CA
) -> None:
    before = list(FUNCTIONS["restart"].invocations)
    message = await INTEGRATION.verify(_ctx(app, ca, "restart"))
    assert "does not answer OPTIONS" in message
    assert FUNCTIONS["restart"].invocations == before


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(
        INTEGRATION,
        config={"url": f"https://{HOST}/api/restart"},
        secrets={"api_key": KEY},
        routes={},
        ca=ca,
    )
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


async def test_invoke_posts_json_and_a_retry_is_deduplicated(
    app: FakeServer, ca: trustme.CA
) -> None:
    ctx = _ctx(app, ca, "restart", run="run-9:restart")
    first = await _invoke(ctx, body={"service": "checkout"})
    again = await _invoke(ctx, body={"service": "checkout"})
    assert first.status_code == 200
    assert first.json_body == again.json_body == {"restarted": "checkout", "count": 1}
    assert FUNCTIONS["restart"].invocations[-2:] == ["POST", "POST"]


async def test_sec7_key_travels_in_the_header_only_and_never_reaches_the_output(
    app: FakeServer, ca: trustme.CA
) -> None:
    output = await _invoke(_ctx(app, ca, "echo"), method="PUT", body={"a": 1})
    echoed = output.json_body
    assert echoed["method"] == "PUT"
    assert echoed["query"] == {}
    assert echoed["headers"]["x-functions-key"] == REDACTED
    assert echoed["headers"]["idempotency-key"] == "run-1:fix"
    assert json.loads(echoed["body"]) == {"a": 1}
    assert KEY not in output.body


async def test_invoke_with_get(app: FakeServer, ca: trustme.CA) -> None:
    output = await _invoke(_ctx(app, ca, "echo"), method="GET")
    assert (output.status_code, output.json_body["method"]) == (200, "GET")
    with pytest.raises(ValidationError, match="no body"):
        InvokeFunctionInput(method="GET", body={"a": 1})


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_invoke_with_each_writing_method_sends_its_body(
    app: FakeServer, ca: trustme.CA, method: str
) -> None:
    output = await _invoke(_ctx(app, ca, "echo"), method=method, body={"incident": "Q1"})
    assert output.json_body["method"] == method
    assert json.loads(output.json_body["body"]) == {"incident": "Q1"}
    assert output.json_body["headers"]["content-type"] == "application/json"


async def test_a_definition_without_a_method_still_posts(app: FakeServer, ca: trustme.CA) -> None:
    data = InvokeFunctionInput.model_validate({"body": {"service": "search"}})
    assert data.method == "POST"
    output = await _invoke(_ctx(app, ca, "echo"), body={"service": "search"})
    assert output.json_body["method"] == "POST"


class _Recording:
    """Notes how each request was declared to egress, then sends it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent: list[tuple[str, bool]] = []

    async def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:
        self.sent.append((method, kwargs["idempotent"]))
        response: httpx.Response = await self.inner.request(method, url, **kwargs)
        return response


async def test_only_get_is_sent_as_idempotent(app: FakeServer, ca: trustme.CA) -> None:
    ctx = _ctx(app, ca, "echo")
    recorder = _Recording(ctx.http)
    ctx = dataclasses.replace(ctx, http=recorder)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        await _invoke(ctx, method=method)
    assert recorder.sent == [
        ("GET", True),
        ("POST", False),
        ("PUT", False),
        ("PATCH", False),
        ("DELETE", False),
    ]


def test_the_editor_form_has_titles() -> None:
    properties = InvokeFunctionInput.model_json_schema()["properties"]
    assert properties["method"]["title"] == "HTTP Method"
    assert properties["method"]["enum"] == ["GET", "POST", "PUT", "PATCH", "DELETE"]
    assert properties["method"]["default"] == "POST"
    assert properties["body"]["title"] == "Body"
    with pytest.raises(ValidationError):
        InvokeFunctionInput.model_validate({"method": "OPTIONS"})
    with pytest.raises(ValidationError):
        InvokeFunctionInput.model_validate({"method": "POST", "headers": {"a": "b"}})


async def test_invoke_errors(app: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(PermanentError, match="404"):
        await _invoke(_ctx(app, ca, "restart"), method="DELETE")
    with pytest.raises(CredentialError):
        await _invoke(_ctx(app, ca, "restart", key="wrong-key"), body={"service": "x"})


@pytest.mark.parametrize(
    "url",
    [
        "https://pd-remediation.azurewebsites.net/api/restart",
        "https://PD-Remediation.azurewebsites.net/api/Restart/",
        "https://pd-remediation-staging.azurewebsites.net/api/restart",
        "https://pd-remediation-a1b2c3d4e5f6g7h8.eastus-01.azurewebsites.net/api/restart",
        "https://pd-remediation.azurewebsites.us/api/restart",
        "https://pd-remediation.chinacloudsites.cn/api/orders/{id}",
    ],
)
def test_function_urls_accepted(url: str) -> None:
    config = INTEGRATION.config.model_validate({"url": url})
    host = url.split("/")[2].lower()
    assert INTEGRATION.destination(config).hosts == (host,)
    assert INTEGRATION.destination(config).ports == (443,)
    assert not config.url.endswith("/")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://pd-remediation.azurewebsites.net/api/restart", "https"),
        ("https://pd-remediation.azurewebsites.net/api/restart?code=abc", "x-functions-key"),
        ("https://pd-remediation.azurewebsites.net/api/restart?x=1", "query string"),
        ("https://pd-remediation.azurewebsites.net:8443/api/restart", "port"),
        ("https://evil.example.com/api/restart", "azurewebsites.net"),
        ("https://azurewebsites.net.evil.com/api/restart", "azurewebsites.net"),
        ("https://pd-remediation.scm.azurewebsites.net/api/restart", "azurewebsites.net"),
        ("https://pd-remediation.azurewebsites.net/restart", "/api/"),
        ("https://pd-remediation.azurewebsites.net/api/", "/api/"),
    ],
)
def test_function_urls_rejected(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        INTEGRATION.config.model_validate({"url": url})


def test_api_key_validation_never_echoes_the_key() -> None:
    with pytest.raises(ValidationError, match="printable") as caught:
        INTEGRATION.secrets.model_validate({"api_key": "secret-key\r\nX-Evil: 1"})
    assert "secret-key" not in str(caught.value)
    assert INTEGRATION.credential_fields == ("url",)
