from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.core.redaction import REDACTED
from fireline.integrations.base import ToolContext
from fireline.integrations.web_api import INTEGRATION
from fireline.integrations.web_api.hosts import check_url, host_matches, parse_patterns
from fireline.integrations.web_api.schema import (
    INCIDENT_JSON,
    HttpRequestInput,
    HttpRequestOutput,
    SendBodyRequestInput,
    SendRequestInput,
    SendWebhookPostInput,
)
from fireline.workflows import templates
from tests.integrations.fakes import web_api as fake
from tests.integrations.support import FakeServer, serve, tool_context

TOKEN = "tok-5f1c2e9a7b3d4e6f"
API_KEY = "key-0a9b8c7d6e5f4a3b"
HEADERS = f"Authorization: Bearer {TOKEN}\nX-Api-Key: {API_KEY}\n"
HOSTS = ("api.example.com", "eu.api.example.com")


@pytest.fixture(scope="module")
def state() -> fake.State:
    return fake.State(token=TOKEN, api_key=API_KEY)


@pytest.fixture(scope="module")
def api(
    state: fake.State, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    with serve(fake.make_app(state), ca, tmp_path_factory.mktemp("webapi"), *HOSTS) as server:
        yield server


# Tests that count items, replies or deliveries get a fake of their own: nothing carries over
# from other tests, or from the same test on the other event loop.
@pytest.fixture
def fresh_state() -> fake.State:
    return fake.State(token=TOKEN, api_key=API_KEY)


@pytest.fixture
def fresh_api(fresh_state: fake.State, ca: trustme.CA, tmp_path: Any) -> Iterator[FakeServer]:
    with serve(fake.make_app(fresh_state), ca, tmp_path, *HOSTS) as server:
        yield server


def _ctx(
    api: FakeServer,
    ca: trustme.CA,
    *,
    headers: str = HEADERS,
    method: str = "GET",
    health: str = "https://api.example.com/health",
    allowed: str = "api.example.com\n*.api.example.com",
    key: str | None = "run-1:step-1",
) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={
            "allowed_hostnames": allowed,
            "health_check_url": health,
            "health_check_method": method,
        },
        secrets={"authentication_headers": headers},
        routes=api.routes(443),
        ca=ca,
        idempotency_key=key,
    )


async def _run(ctx: ToolContext, **data: Any) -> HttpRequestOutput:
    return await _send(ctx, "http_request", **data)


async def _send(ctx: ToolContext, name: str, **data: Any) -> HttpRequestOutput:
    action = INTEGRATION.action(name)
    assert action is not None
    output = await action.run(ctx, action.input.model_validate(data))
    assert isinstance(output, HttpRequestOutput)
    return output


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_verify_healthy_with_either_method(
    api: FakeServer, ca: trustme.CA, state: fake.State, method: str
) -> None:
    message = await INTEGRATION.verify(_ctx(api, ca, method=method))
    assert message == f"{method} api.example.com answered 204"
    assert state.seen[-1]["method"] == method
    assert state.seen[-1]["authorization"] == f"Bearer {TOKEN}"
    assert state.seen[-1]["host"] == "api.example.com"


async def test_verify_wrong_header_is_a_credential_error(api: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(CredentialError):
        await INTEGRATION.verify(
            _ctx(api, ca, headers=f"Authorization: Bearer wrong\nX-Api-Key: {API_KEY}")
        )


async def test_verify_redirect_is_healthy_and_not_followed(api: FakeServer, ca: trustme.CA) -> None:
    # NET-4: a 3xx counts as healthy; the redirect's foreign host is never contacted.
    message = await INTEGRATION.verify(_ctx(api, ca, health="https://api.example.com/moved"))
    assert message.endswith("302")


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(
        INTEGRATION,
        config={
            "allowed_hostnames": "api.example.com",
            "health_check_url": "https://api.example.com/h",
        },
        secrets={"authentication_headers": HEADERS},
        routes={},
        ca=ca,
    )
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


async def test_post_sends_idempotency_key_and_a_replay_is_deduplicated(
    fresh_api: FakeServer, ca: trustme.CA, fresh_state: fake.State
) -> None:
    # WF-5: the same run/step key twice creates one item upstream.
    ctx = _ctx(fresh_api, ca, key="run-7:create")
    first = await _run(
        ctx, method="POST", url="https://api.example.com/items", json_body={"name": "db"}
    )
    again = await _run(
        ctx, method="POST", url="https://api.example.com/items", json_body={"name": "db"}
    )
    assert first.status_code == again.status_code == 201
    assert first.json_body == again.json_body
    assert again.headers["idempotent-replayed"] == "true"
    assert fresh_state.seen[-1]["idempotency-key"] == "run-7:create"
    listed = await _run(ctx, method="GET", url="https://eu.api.example.com/items")
    assert listed.json_body == {"items": [first.json_body]}
    assert "idempotency-key" not in fresh_state.seen[-1]


async def test_delete_carries_idempotency_key(
    fresh_api: FakeServer, ca: trustme.CA, fresh_state: fake.State
) -> None:
    ctx = _ctx(fresh_api, ca, key="run-8:make")
    created = await _run(
        ctx, method="POST", url="https://api.example.com/items", json_body={"name": "x"}
    )
    item_id = created.json_body["id"]
    ctx = _ctx(fresh_api, ca, key="run-8:remove")
    deleted = await _run(ctx, method="DELETE", url=f"https://api.example.com/items/{item_id}")
    assert deleted.status_code == 204
    assert fresh_state.seen[-1]["idempotency-key"] == "run-8:remove"
    with pytest.raises(PermanentError, match="404"):
        await _run(ctx, method="DELETE", url=f"https://api.example.com/items/{item_id}")


async def test_output_redacts_auth_headers_and_their_echo(api: FakeServer, ca: trustme.CA) -> None:
    output = await _run(
        _ctx(api, ca),
        method="POST",
        url="https://api.example.com/echo?q=1",
        headers={"X-Trace": "abc", "Content-Type": "text/plain"},
        text_body="hello",
    )
    assert output.status_code == 200
    assert output.headers["x-api-key"] == REDACTED
    assert output.headers["x-request-id"] == "req-1"
    assert TOKEN not in output.body and API_KEY not in output.body
    assert TOKEN not in str(output.headers) and API_KEY not in str(output.headers)
    assert output.json_body["headers"]["x-trace"] == "abc"
    assert output.json_body["headers"]["authorization"] == REDACTED
    assert output.json_body["body"] == "hello"
    assert output.json_body["query"] == {"q": "1"}


async def test_extra_headers_cannot_override_auth_headers(api: FakeServer, ca: trustme.CA) -> None:
    for name in ("authorization", "X-API-KEY", "Idempotency-Key", "Host", "Content-Length"):
        with pytest.raises(PermanentError, match="cannot be"):
            await _run(
                _ctx(api, ca), method="GET", url="https://api.example.com/echo", headers={name: "v"}
            )
    with pytest.raises(PermanentError, match="control"):
        await _run(
            _ctx(api, ca),
            method="GET",
            url="https://api.example.com/echo",
            headers={"X-Trace": "a\r\nX-Evil: 1"},
        )


async def test_large_body_is_capped(api: FakeServer, ca: trustme.CA) -> None:
    output = await _run(_ctx(api, ca), url="https://api.example.com/big?size=100000")
    assert output.truncated is True
    assert len(output.body) == 64 * 1024
    assert output.json_body is None
    small = await _run(_ctx(api, ca), url="https://api.example.com/big?size=10")
    assert (small.truncated, small.body) == (False, "x" * 10)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com.evil.com/echo",
        "https://api.example.com@evil.com/echo",
        "https://evil.com#@api.example.com",
        "https://user:pw@api.example.com/echo",
        "http://api.example.com/echo",
        "https://api.example.com:8443/echo",
        "https://example.com/echo",
    ],
)
async def test_net1_action_refuses_urls_outside_the_allow_list(
    api: FakeServer, ca: trustme.CA, state: fake.State, url: str
) -> None:
    before = len(state.seen)
    with pytest.raises(PermanentError, match="url"):
        await _run(_ctx(api, ca), url=url)
    assert len(state.seen) == before


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("api.x.com", True),
        ("API.X.COM", True),
        ("api.x.com.", True),
        ("API.X.COM.", True),
        ("api.x.com.evil.com", False),
        ("v2.api.x.com", False),  # an exact entry does not cover its subdomains
        ("x.com", False),
        ("svc.x.com", False),  # the wildcard matches subdomains only, not the apex
        ("a.svc.x.com", True),
        ("A.B.SVC.X.COM.", True),
        ("evilsvc.x.com", False),
        ("bücher.svc.x.com", True),
        ("xn--bcher-kva.svc.x.com", True),
        ("other.com", False),
        ("", False),
    ],
)
def test_net1_host_matching_table(host: str, allowed: bool) -> None:
    assert host_matches(host, parse_patterns("api.x.com\n*.svc.x.com")) is allowed


def test_net1_exact_entry_does_not_match_subdomains() -> None:
    patterns = parse_patterns(["API.X.com."])
    assert patterns == ("api.x.com",)
    assert host_matches("api.x.com", patterns)
    assert not host_matches("v2.api.x.com", patterns)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://API.X.COM./v1", True),
        ("https://api.x.com@evil.com/", False),
        ("https://evil.com#@api.x.com", False),
        ("https://api.x.com.evil.com/", False),
        ("https://api.x.com:444/", False),
        ("https://api.x.com:8443/", True),
        ("https://api.x.com:443/", True),
    ],
)
def test_net1_url_table(url: str, ok: bool) -> None:
    patterns = parse_patterns("api.x.com")
    if ok:
        assert check_url(url, patterns, (443, 8443)).host.rstrip(".") == "api.x.com"
    else:
        with pytest.raises(ValueError):
            check_url(url, patterns, (443, 8443))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("https://api.x.com", "bare hostname"),
        ("api.x.com/path", "bare hostname"),
        ("api.x.com:8443", "bare hostname"),
        ("user@api.x.com", "bare hostname"),
        ("*", "asterisk"),
        ("api.*.com", "asterisk"),
        ("*.com", "two labels"),
        ("bad_host.com", "valid hostname"),
        ("", "at least one"),
    ],
)
def test_allowed_hostnames_validation(entry: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        INTEGRATION.config.model_validate(
            {"allowed_hostnames": entry, "health_check_url": "https://api.x.com/"}
        )


def test_config_is_normalized_and_destination_lists_hosts_and_ports() -> None:
    config = INTEGRATION.config.model_validate(
        {
            "allowed_hostnames": "API.Example.com.\n\n*.Bücher.example\napi.example.com",
            "health_check_url": "https://api.example.com:8443/health",
            "health_check_method": "HEAD",
        }
    )
    assert config.allowed_hostnames == "api.example.com\n*.xn--bcher-kva.example"
    destination = INTEGRATION.destination(config)
    assert destination.hosts == ("api.example.com", "*.xn--bcher-kva.example")
    assert destination.ports == (443, 8443)
    assert INTEGRATION.credential_fields == ("allowed_hostnames",)


@pytest.mark.parametrize(
    ("health", "message"),
    [
        ("https://other.example.org/health", "not in this connection's allowed hostnames"),
        ("http://api.example.com/health", "https"),
        ("https://u:p@api.example.com/health", "user name"),
        ("https://api.example.com/health#x", "fragment"),
    ],
)
def test_health_check_url_must_be_on_an_allowed_host(health: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        INTEGRATION.config.model_validate(
            {"allowed_hostnames": "api.example.com", "health_check_url": health}
        )


def test_health_check_method_is_head_or_get() -> None:
    with pytest.raises(ValidationError, match="HEAD"):
        INTEGRATION.config.model_validate(
            {
                "allowed_hostnames": "api.example.com",
                "health_check_url": "https://api.example.com/",
                "health_check_method": "POST",
            }
        )


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("Authorization Bearer abc", "Name: value"),
        ("Bad Name: secret-value-1", "not a valid header name"),
        ("Authorization Bearer secret-value-1:x", "not a valid header name"),
        ("Host: secret-value-1", "cannot be set"),
        ("Content-Length: 5", "cannot be set"),
        ("Transfer-Encoding: chunked", "cannot be set"),
        ("X-A: secret-value-1\rX-Injected: 1", "control"),
        ("X-A: secret-value-1\x00", "control"),
        ("X-A: secret-value-1\nx-a: secret-value-2", "twice"),
        ("X-A:", "empty"),
        ("\n \n", "at least one"),
    ],
)
def test_authentication_headers_validation_never_echoes_the_value(lines: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        INTEGRATION.secrets.model_validate({"authentication_headers": lines})
    assert "secret-value" not in str(caught.value)


def test_authentication_headers_parse_with_crlf_line_endings() -> None:
    secrets = INTEGRATION.secrets.model_validate(
        {"authentication_headers": "Authorization: Bearer a:b\r\nX-Key:  v1 \r\n"}
    )
    assert secrets.headers() == (("Authorization", "Bearer a:b"), ("X-Key", "v1"))


def test_http_request_input_validation() -> None:
    with pytest.raises(ValidationError, match="either"):
        HttpRequestInput(method="POST", url="https://a.b/", json_body={}, text_body="x")
    with pytest.raises(ValidationError, match="no body"):
        HttpRequestInput(method="GET", url="https://a.b/", json_body={"a": 1})
    with pytest.raises(ValidationError):
        HttpRequestInput.model_validate({"method": "TRACE", "url": "https://a.b/"})
    action = INTEGRATION.action("http_request")
    assert action is not None and action.idempotent is False


# The per-method actions of the product's catalog -------------------------------------------


def test_per_method_actions_and_their_idempotency() -> None:
    declared = {
        action.name: (action.title, action.idempotent, action.input)
        for action in INTEGRATION.actions
    }
    assert declared == {
        "http_request": ("HTTP Request", False, HttpRequestInput),
        "send_get_request": ("Send GET Request", True, SendRequestInput),
        "send_head_request": ("Send HEAD Request", True, SendRequestInput),
        "send_post_request": ("Send POST Request", False, SendBodyRequestInput),
        "send_put_request": ("Send PUT Request", True, SendBodyRequestInput),
        "send_patch_request": ("Send PATCH Request", False, SendBodyRequestInput),
        "send_delete_request": ("Send DELETE Request", True, SendRequestInput),
        "send_webhook_post": ("Send Webhook POST", False, SendWebhookPostInput),
    }
    assert {action.output for action in INTEGRATION.actions} == {HttpRequestOutput}


async def _item(api: FakeServer, ca: trustme.CA, name: str) -> str:
    created = await _send(
        _ctx(api, ca, key=None),
        "send_post_request",
        url="https://api.example.com/items",
        json_body={"name": name},
    )
    assert created.status_code == 201
    return str(created.json_body["id"])


async def test_get_and_head_requests_read_an_item_without_an_idempotency_key(
    fresh_api: FakeServer, ca: trustme.CA, fresh_state: fake.State
) -> None:
    item_id = await _item(fresh_api, ca, "cache")
    url = f"https://eu.api.example.com/items/{item_id}"
    got = await _send(_ctx(fresh_api, ca), "send_get_request", url=url, headers="X-Trace: t-1")
    assert (got.status_code, got.json_body) == (200, {"id": item_id, "name": "cache"})
    assert fresh_state.seen[-1]["x-trace"] == "t-1"
    assert "idempotency-key" not in fresh_state.seen[-1]
    head = await _send(_ctx(fresh_api, ca), "send_head_request", url=url)
    assert (head.status_code, head.body, head.json_body) == (200, "", None)
    assert head.headers["content-type"] == "application/json"
    assert fresh_state.seen[-1]["method"] == "HEAD"
    assert "idempotency-key" not in fresh_state.seen[-1]
    with pytest.raises(PermanentError, match="404"):
        await _send(
            _ctx(fresh_api, ca), "send_head_request", url="https://api.example.com/items/none"
        )


async def test_put_creates_then_replaces_so_a_retry_is_harmless(
    fresh_api: FakeServer, ca: trustme.CA, fresh_state: fake.State
) -> None:
    url = "https://api.example.com/items/runbook-7"
    body = {"name": "runbook", "owner": "sre"}
    first = await _send(_ctx(fresh_api, ca), "send_put_request", url=url, json_body=body)
    again = await _send(
        _ctx(fresh_api, ca), "send_put_request", url=url, json_body=json.dumps(body)
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json_body == again.json_body == {**body, "id": "runbook-7"}
    assert fresh_state.items["runbook-7"] == {**body, "id": "runbook-7"}
    assert "idempotency-key" not in fresh_state.seen[-1]


async def test_patch_carries_idempotency_key_and_a_retry_is_applied_once(
    fresh_api: FakeServer, ca: trustme.CA, fresh_state: fake.State
) -> None:
    # WF-5: the step's key makes the API answer a retry with the first result.
    item_id = await _item(fresh_api, ca, "queue")
    url = f"https://api.example.com/items/{item_id}"
    patch: dict[str, Any] = {
        "url": url,
        "headers": {"Content-Type": "application/merge-patch+json"},
        "json_body": {"name": "queue-2"},
    }
    ctx = _ctx(fresh_api, ca, key="run-9:rename")
    first = await _send(ctx, "send_patch_request", **patch)
    again = await _send(ctx, "send_patch_request", **patch)
    assert first.json_body == again.json_body == {"id": item_id, "name": "queue-2", "version": 2}
    assert again.headers["idempotent-replayed"] == "true"
    assert fresh_state.items[item_id]["version"] == 2
    assert fresh_state.seen[-1]["idempotency-key"] == "run-9:rename"
    later = await _send(_ctx(fresh_api, ca, key="run-10:rename"), "send_patch_request", **patch)
    assert later.json_body["version"] == 3
    # The same key on a different request is refused by the API, not silently replayed.
    with pytest.raises(PermanentError, match="422"):
        await _send(ctx, "send_patch_request", **{**patch, "json_body": {"name": "other"}})
    with pytest.raises(PermanentError, match="415"):
        await _send(
            _ctx(fresh_api, ca, key="run-11:rename"),
            "send_patch_request",
            url=url,
            text_body="name=queue-3",
        )


async def test_post_request_with_the_same_key_creates_one_item(
    fresh_api: FakeServer, ca: trustme.CA, fresh_state: fake.State
) -> None:
    ctx = _ctx(fresh_api, ca, key="run-12:create")
    inputs = {"url": "https://api.example.com/items", "json_body": '{"name": "lb"}'}
    first = await _send(ctx, "send_post_request", **inputs)
    again = await _send(ctx, "send_post_request", **inputs)
    assert first.status_code == again.status_code == 201
    assert first.json_body == again.json_body and first.json_body["name"] == "lb"
    assert [item["name"] for item in fresh_state.items.values()].count("lb") == 1
    assert fresh_state.seen[-1]["idempotency-key"] == "run-12:create"


async def test_delete_request_is_idempotent_and_carries_no_key(
    fresh_api: FakeServer, ca: trustme.CA, fresh_state: fake.State
) -> None:
    item_id = await _item(fresh_api, ca, "old")
    url = f"https://api.example.com/items/{item_id}"
    deleted = await _send(_ctx(fresh_api, ca, key="run-13:remove"), "send_delete_request", url=url)
    assert deleted.status_code == 204 and item_id not in fresh_state.items
    assert "idempotency-key" not in fresh_state.seen[-1]
    with pytest.raises(PermanentError, match="404"):
        await _send(_ctx(fresh_api, ca), "send_delete_request", url=url)


def _incident() -> dict[str, Any]:
    # The snapshot step templates see (incidents/outbox.py `snapshot`).
    return {
        "id": "Q1W2E3R4T5Y6U7",
        "incident_number": 42,
        "title": "Checkout <5xx> & 'timeouts'",
        "status": "triggered",
        "urgency": "high",
        "priority": "P1",
        "service_id": "PSVC1",
        "incident_key": "checkout/5xx",
        "created_at": "2026-11-23T10:00:00Z",
    }


async def test_webhook_post_sends_the_incident_as_json_once_per_step(
    fresh_api: FakeServer, ca: trustme.CA, fresh_state: fake.State
) -> None:
    # The editor starts the Body with the incident template; the engine renders it.
    assert SendWebhookPostInput.model_json_schema()["properties"]["body"]["default"] == (
        INCIDENT_JSON
    )
    inputs = templates.render(
        {"url": "https://api.example.com/hooks/incidents", "body": INCIDENT_JSON},
        {"incident": _incident()},
    )
    ctx = _ctx(fresh_api, ca, key="run-14:notify")
    sent = await _send(ctx, "send_webhook_post", **inputs)
    assert (sent.status_code, sent.json_body) == (202, {"received": 1})
    assert fresh_state.hooks[-1] == _incident()
    assert fresh_state.seen[-1]["content-type"] == "application/json"
    assert fresh_state.seen[-1]["idempotency-key"] == "run-14:notify"
    again = await _send(ctx, "send_webhook_post", **inputs)
    assert again.json_body == sent.json_body and len(fresh_state.hooks) == 1
    custom = await _send(
        _ctx(fresh_api, ca, key="run-15:notify"),
        "send_webhook_post",
        url="https://api.example.com/hooks/incidents",
        body={"summary": "db down"},
    )
    assert custom.status_code == 202 and fresh_state.hooks[-1] == {"summary": "db down"}


async def test_webhook_post_output_redacts_the_connections_headers(
    fresh_api: FakeServer, ca: trustme.CA
) -> None:
    echoed = await _send(
        _ctx(fresh_api, ca),
        "send_webhook_post",
        url="https://api.example.com/echo",
        body=[1, "two"],
    )
    assert echoed.json_body["body"] == '[1,"two"]'
    assert echoed.json_body["headers"]["authorization"] == REDACTED
    assert echoed.headers["x-api-key"] == REDACTED
    assert TOKEN not in echoed.body and API_KEY not in echoed.body


async def test_per_method_error_answers(
    fresh_api: FakeServer, ca: trustme.CA, fresh_state: fake.State
) -> None:
    with pytest.raises(CredentialError, match="401"):
        await _send(
            _ctx(fresh_api, ca, headers=f"Authorization: Bearer wrong\nX-Api-Key: {API_KEY}"),
            "send_get_request",
            url="https://api.example.com/items",
        )
    with pytest.raises(TransientError, match="429") as throttled:
        await _send(
            _ctx(fresh_api, ca), "send_get_request", url="https://api.example.com/throttled"
        )
    assert throttled.value.retry_after == 7
    before = len(fresh_state.seen)
    with pytest.raises(PermanentError, match="url"):
        await _send(_ctx(fresh_api, ca), "send_webhook_post", url="https://evil.com/h", body={})
    with pytest.raises(PermanentError, match="cannot be overridden"):
        await _send(
            _ctx(fresh_api, ca),
            "send_post_request",
            url="https://api.example.com/items",
            headers="Idempotency-Key: mine",
            json_body={},
        )
    assert len(fresh_state.seen) == before


def test_per_method_input_validation() -> None:
    url = "https://a.b/"
    with pytest.raises(ValidationError, match="Extra inputs"):
        SendRequestInput.model_validate({"url": url, "json_body": {"a": 1}})
    with pytest.raises(ValidationError, match="either"):
        SendBodyRequestInput(url=url, json_body={}, text_body="x")
    with pytest.raises(ValidationError, match="not valid JSON"):
        SendBodyRequestInput(url=url, json_body="{{ not rendered }}")
    with pytest.raises(ValidationError, match="Field required"):
        SendWebhookPostInput.model_validate({"url": url})
    with pytest.raises(ValidationError, match="not valid JSON"):
        SendWebhookPostInput(url=url, body="incident")
    assert SendBodyRequestInput(url=url, json_body='{"a": [1]}').json_body == {"a": [1]}
    assert SendBodyRequestInput(url=url, json_body={"a": 1}).json_body == {"a": 1}
    lines = SendRequestInput(url=url, headers="X-A: 1\r\n\nX-B:  two ")
    assert lines.headers == {"X-A": "1", "X-B": "two"}
    assert SendRequestInput(url=url, headers=" ").headers == {}
    with pytest.raises(ValidationError, match="Name: value"):
        SendRequestInput(url=url, headers="X-A 1")
    with pytest.raises(ValidationError, match="cannot be set"):
        SendRequestInput(url=url, headers="Host: elsewhere")
    with pytest.raises(ValidationError, match="String should have at least 1"):
        SendRequestInput(url="")
