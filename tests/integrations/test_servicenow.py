from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.core.redaction import register_secret
from fireline.integrations.base import ToolContext
from fireline.integrations.servicenow import INTEGRATION, client
from fireline.integrations.servicenow.schema import RetrieveRunbookInput, RetrieveRunbookOutput
from fireline.integrations.servicenow.text import html_to_text
from tests.integrations.fakes import servicenow as fake
from tests.integrations.support import FakeServer, serve, tool_context

HOST = "acme.service-now.com"
SECRETS = {
    "username": "pd.integration",
    "password": "pw-Zq81-canary-password",
    "client_id": "be3aeb583ace210011c15b24a43e25d8",
    "client_secret": "cs-Kq27-canary-client-secret",
}
SYS_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
OTHER_SYS_ID = "ffffffffffffffffffffffffffffffff"
HTML = (
    "<h2>Restart the payments API</h2><p>When latency &gt; 2s:</p>"
    "<ol><li>Drain the node</li><li>Run <code>systemctl restart payments</code></li></ol>"
    "<script>alert(1)</script>"
)


def _instance() -> fake.Instance:
    article = {
        "sys_id": SYS_ID,
        "number": "KB0010001",
        "short_description": "Payments API restart runbook",
        "text": HTML,
        "author": {"value": "6816f79cc0a8016401c5a33be04be441", "display_value": "Fred Luddy"},
        "kb_knowledge_base": {"value": "a7e8a78bff0221009b20ffffffffff17", "display_value": "IT"},
        "workflow_state": {"value": "published", "display_value": "Published"},
        "sys_updated_on": "2026-11-20 09:30:00",
    }
    other = {
        **article,
        "sys_id": OTHER_SYS_ID,
        "number": "KB0010002",
        "short_description": "Another article",
    }
    return fake.Instance(
        **SECRETS,
        tables={
            "sn_km_mr_st_kb_knowledge": [article, other],
            "kb_knowledge": [
                {
                    key: article[key]
                    for key in ("sys_id", "kb_knowledge_base", "workflow_state", "sys_updated_on")
                }
            ],
        },
        attachments=[
            {
                "sys_id": "aa" * 16,
                "file_name": "dashboard.png",
                "content_type": "image/png",
                "size_bytes": "20480",
                "download_link": f"https://{HOST}/api/now/attachment/{'aa' * 16}/file",
                "table_name": "kb_knowledge",
                "table_sys_id": SYS_ID,
                "sys_created_on": "2026-11-19 08:00:00",
            },
            {
                "sys_id": "bb" * 16,
                "file_name": "unrelated.txt",
                "content_type": "text/plain",
                "size_bytes": "12",
                "table_name": "incident",
                "table_sys_id": "cc" * 16,
            },
        ],
    )


@pytest.fixture(scope="module")
def instance() -> fake.Instance:
    return _instance()


@pytest.fixture(scope="module")
def snow(
    instance: fake.Instance, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    with serve(fake.make_app(instance), ca, tmp_path_factory.mktemp("snow"), HOST) as server:
        yield server


def _ctx(snow: FakeServer, ca: trustme.CA, **changes: str) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"url": f"https://{HOST}/now/nav/ui/classic"},
        secrets={**SECRETS, **changes},
        routes=snow.routes(443),
        ca=ca,
    )


async def _retrieve(ctx: ToolContext, **data: Any) -> RetrieveRunbookOutput:
    action = INTEGRATION.action("retrieve_runbook")
    assert action is not None and action.idempotent
    output = await action.run(ctx, RetrieveRunbookInput.model_validate(data))
    assert isinstance(output, RetrieveRunbookOutput)
    return output


async def test_verify_obtains_a_token_by_the_password_grant(
    snow: FakeServer, ca: trustme.CA
) -> None:
    assert await INTEGRATION.verify(_ctx(snow, ca)) == (
        f"Obtained an OAuth access token from {HOST}"
    )
    assert INTEGRATION.verify_blocks_save


@pytest.mark.parametrize("field", ["username", "password", "client_id", "client_secret"])
async def test_verify_wrong_credential_is_a_credential_error_with_servicenow_text(
    snow: FakeServer, ca: trustme.CA, field: str
) -> None:
    with pytest.raises(CredentialError) as caught:
        await INTEGRATION.verify(_ctx(snow, ca, **{field: "wrong-value-xyz"}))
    assert "access_denied" in str(caught.value)


async def test_sec5_refusal_message_never_carries_the_secrets(
    snow: FakeServer, ca: trustme.CA
) -> None:
    # SEC-5: even with the secrets registered for redaction, the message names no secret.
    for value in SECRETS.values():
        register_secret(value)
    with pytest.raises(CredentialError) as caught:
        await INTEGRATION.verify(_ctx(snow, ca, password="wrong-password-canary"))
    message = str(caught.value)
    assert all(value not in message for value in SECRETS.values())
    assert "wrong-password-canary" not in message


async def test_sec1_an_echoed_request_in_the_refusal_is_scrubbed(
    snow: FakeServer, instance: fake.Instance, ca: trustme.CA
) -> None:
    for value in SECRETS.values():
        register_secret(value)
    instance.echo_refusals = True
    try:
        with pytest.raises(CredentialError) as caught:
            await INTEGRATION.verify(_ctx(snow, ca, username="someone-else"))
    finally:
        instance.echo_refusals = False
    message = str(caught.value)
    assert message.endswith("access_denied for username=[REDACTED]&password=[REDACTED]")
    assert "[REDACTED]" in message
    assert all(value not in message for value in SECRETS.values())


async def test_verify_is_read_only_it_only_asks_for_a_token(
    snow: FakeServer, instance: fake.Instance, ca: trustme.CA
) -> None:
    instance.urls.clear()
    await INTEGRATION.verify(_ctx(snow, ca))
    assert instance.urls == [f"https://{HOST}/oauth_token.do"]


async def test_sec7_secrets_travel_in_the_form_body_never_the_url(
    snow: FakeServer, instance: fake.Instance, ca: trustme.CA
) -> None:
    instance.urls.clear()
    await _retrieve(_ctx(snow, ca), article="KB0010001", include_attachments=True)
    assert instance.urls
    for url in instance.urls:
        assert all(value not in url for value in SECRETS.values())


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(
        INTEGRATION, config={"url": f"https://{HOST}"}, secrets=SECRETS, routes={}, ca=ca
    )
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


async def test_retrieve_runbook_by_number_with_attachments(
    snow: FakeServer, ca: trustme.CA
) -> None:
    output = await _retrieve(_ctx(snow, ca), article="kb0010001", include_attachments=True)
    assert output.number == "KB0010001"
    assert output.sys_id == SYS_ID
    assert output.title == "Payments API restart runbook"
    assert output.content == HTML
    assert output.content_text == (
        "Restart the payments API\n\nWhen latency > 2s:\n\n- Drain the node\n"
        "- Run systemctl restart payments"
    )
    assert output.author == "Fred Luddy"
    assert output.knowledge_base == "IT"
    assert output.workflow_state == "Published"
    assert output.updated_at == "2026-11-20 09:30:00"
    assert [(a.file_name, a.size_bytes, a.content_type) for a in output.attachments] == [
        ("dashboard.png", 20480, "image/png")
    ]


async def test_retrieve_runbook_by_sys_id_without_attachments(
    snow: FakeServer, instance: fake.Instance, ca: trustme.CA
) -> None:
    instance.urls.clear()
    output = await _retrieve(_ctx(snow, ca), article=OTHER_SYS_ID.upper())
    assert (output.number, output.title) == ("KB0010002", "Another article")
    assert output.attachments == []
    # No supplemental kb_knowledge row for this article: the primary payload fills in.
    assert output.workflow_state == "Published"
    assert not any("/api/now/attachment" in url for url in instance.urls)


async def test_retrieve_runbook_unknown_article_is_a_clear_permanent_error(
    snow: FakeServer, ca: trustme.CA
) -> None:
    with pytest.raises(PermanentError, match="KB0099999 was not found"):
        await _retrieve(_ctx(snow, ca), article="KB0099999")


async def test_missing_managed_knowledge_table_quotes_servicenow(
    snow: FakeServer, instance: fake.Instance, ca: trustme.CA
) -> None:
    # An instance without the Managed Knowledge plugin has no sn_km_mr_st_kb_knowledge table.
    table = instance.tables.pop("sn_km_mr_st_kb_knowledge")
    try:
        with pytest.raises(PermanentError, match="Invalid table sn_km_mr_st_kb_knowledge"):
            await _retrieve(_ctx(snow, ca), article="KB0010001")
    finally:
        instance.tables["sn_km_mr_st_kb_knowledge"] = table


@pytest.mark.parametrize("article", ["KB0010001^ORnumber!=x", "INC0010001", "", "12345"])
def test_article_input_rejects_anything_but_a_number_or_sys_id(article: str) -> None:
    with pytest.raises(ValidationError, match="KB0010001"):
        RetrieveRunbookInput(article=article)


@pytest.mark.parametrize(
    ("url", "base"),
    [
        (f"https://{HOST.upper()}/now/nav/ui", f"https://{HOST}"),
        (f"https://{HOST}/nav_to.do?uri=kb_view.do#top", f"https://{HOST}"),
        (f"https://{HOST}.:443/", f"https://{HOST}"),
        (f"https://{HOST}:8443", f"https://{HOST}:8443"),
    ],
)
def test_net6_instance_base_url_is_derived_and_is_the_only_destination(url: str, base: str) -> None:
    config = INTEGRATION.config.model_validate({"url": url})
    assert config.url == base  # type: ignore[attr-defined]
    destination = INTEGRATION.destination(config)
    assert destination.hosts == (HOST,)
    assert destination.ports == ((8443,) if base.endswith("8443") else (443,))
    assert INTEGRATION.credential_fields == ("url",)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"http://{HOST}", "https"),
        (f"https://user:pw@{HOST}", "user name"),
        (f"https://{HOST}@evil.example", "user name"),
        ("https://", "https"),
        (f"https://{HOST}:99999", "port"),
    ],
)
def test_config_validation_errors_are_clear(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        INTEGRATION.config.model_validate({"url": url})


async def test_table_api_checks_the_bearer_token(snow: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(CredentialError, match="User Not Authenticated"):
        await client.get(_ctx(snow, ca), "not-a-token", "/api/now/table/kb_knowledge")


def test_all_four_credentials_are_secrets() -> None:
    assert set(INTEGRATION.secrets.model_fields) == set(SECRETS)
    assert set(INTEGRATION.config.model_fields) == {"url"}


def test_html_to_text_keeps_structure() -> None:
    assert html_to_text("<table><tr><td>a</td><td>b&amp;c</td></tr></table>") == "a\tb&c"
    assert html_to_text("<style>p{}</style><p>one<br>two</p>") == "one\ntwo"
