from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.core.redaction import register_secret
from fireline.integrations.base import ToolContext
from fireline.integrations.servicenow import INTEGRATION, actions, client
from fireline.integrations.servicenow.schema import (
    CreateIncidentInput,
    IncidentOutput,
    RetrieveRunbookInput,
    RetrieveRunbookOutput,
)
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
PAYMENTS_SRE = "287ebd7da9fe198100f92cc8d1d2154e"
DATABASE_1, DATABASE_2 = "8a5055c9c61122780043563ef53438e3", "8a4dde73c6112278017a6a4baf547aa7"
ABEL = "62826bf03710200044e0bfc8bcbe5df1"
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
            "incident": [],
            "sys_user_group": [
                {"sys_id": PAYMENTS_SRE, "name": "Payments SRE"},
                {"sys_id": DATABASE_1, "name": "Database"},
                {"sys_id": DATABASE_2, "name": "Database"},  # names need not be unique
            ],
            "sys_user": [
                {"sys_id": ABEL, "user_name": "abel.tuter", "email": "abel.tuter@example.com",
                 "name": "Abel Tuter"},
            ],
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


def _ctx(
    snow: FakeServer, ca: trustme.CA, idempotency_key: str | None = None, **changes: str
) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"url": f"https://{HOST}/now/nav/ui/classic"},
        secrets={**SECRETS, **changes},
        routes=snow.routes(443),
        ca=ca,
        idempotency_key=idempotency_key,
    )


async def _retrieve(ctx: ToolContext, **data: Any) -> RetrieveRunbookOutput:
    action = INTEGRATION.action("retrieve_runbook")
    assert action is not None and action.idempotent
    output = await action.run(ctx, RetrieveRunbookInput.model_validate(data))
    assert isinstance(output, RetrieveRunbookOutput)
    return output


async def _create(ctx: ToolContext, **data: Any) -> IncidentOutput:
    action = INTEGRATION.action("create_incident")
    assert action is not None and not action.idempotent
    output = await action.run(ctx, CreateIncidentInput.model_validate(data))
    assert isinstance(output, IncidentOutput)
    return output


def _key(step: str = "step-1") -> str:
    # The instance outlives one test (and each test runs on both event loops): a fresh run.
    return f"{uuid.uuid4()}:{step}"


def _stored(instance: fake.Instance, sys_id: str) -> dict[str, Any]:
    return next(r for r in instance.tables["incident"] if r["sys_id"] == sys_id)


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
    await _create(_ctx(snow, ca, _key()), short_description="SEC-7",
                  assignment_group="Payments SRE", caller="abel.tuter")
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


async def test_create_incident_resolves_names_and_links_the_new_incident(
    snow: FakeServer, instance: fake.Instance, ca: trustme.CA
) -> None:
    key = _key()
    output = await _create(
        _ctx(snow, ca, key),
        short_description="Checkout p99 above 2s",
        description="Datadog monitor 1001 is alerting",
        urgency=1,
        impact=2,
        assignment_group="Payments SRE",
        caller="abel.tuter",
        category="software",
    )
    assert output.created
    assert re.fullmatch(r"INC\d{7}", output.number)
    assert re.fullmatch(r"[0-9a-f]{32}", output.sys_id)
    assert output.short_description == "Checkout p99 above 2s"
    assert (output.urgency, output.impact, output.priority, output.state) == (1, 2, 2, "1")
    assert (output.assignment_group, output.caller) == (PAYMENTS_SRE, ABEL)
    assert output.link == f"https://{HOST}/nav_to.do?uri=incident.do%3Fsys_id%3D{output.sys_id}"
    stored = _stored(instance, output.sys_id)
    assert stored["description"] == "Datadog monitor 1001 is alerting"
    assert stored["category"] == "software"
    assert stored["assignment_group"]["value"] == PAYMENTS_SRE
    assert stored["caller_id"]["display_value"] == "Abel Tuter"
    assert stored["correlation_id"] == actions.correlation_id(key)
    assert stored["correlation_display"] == "Fireline"


async def test_wf5_create_incident_retried_with_the_same_key_creates_one_incident(
    snow: FakeServer, instance: fake.Instance, ca: trustme.CA
) -> None:
    data = {"short_description": f"Retried step {uuid.uuid4()}", "urgency": 2}
    key = _key("step-2")
    first = await _create(_ctx(snow, ca, key), **data)
    again = await _create(_ctx(snow, ca, key), **data)
    other = await _create(_ctx(snow, ca, _key("step-2")), **data)
    assert first.created and not again.created and other.created
    assert first.sys_id == again.sys_id != other.sys_id
    assert first.number == again.number
    assert again.model_dump(exclude={"created"}) == first.model_dump(exclude={"created"})
    stored = [r for r in instance.tables["incident"]
              if r["short_description"] == data["short_description"]]
    assert len(stored) == 2


async def test_create_incident_without_a_key_sets_no_correlation_id(
    snow: FakeServer, instance: fake.Instance, ca: trustme.CA
) -> None:
    instance.urls.clear()
    output = await _create(_ctx(snow, ca), short_description="Manual")
    assert (output.urgency, output.impact, output.priority) == (3, 3, 5)
    assert output.assignment_group is None and output.caller is None
    stored = _stored(instance, output.sys_id)
    assert stored["correlation_id"] == "" and "correlation_display" not in stored
    # No look-up without a key: only the token and the insert.
    assert [url.split("?")[0] for url in instance.urls] == [
        f"https://{HOST}/oauth_token.do", f"https://{HOST}/api/now/table/incident"]


async def test_create_incident_takes_sys_ids_as_they_are_and_callers_by_email(
    snow: FakeServer, instance: fake.Instance, ca: trustme.CA
) -> None:
    instance.urls.clear()
    output = await _create(
        _ctx(snow, ca, _key()), short_description="Replica lag",
        assignment_group=DATABASE_2.upper(), caller="abel.tuter@example.com",
    )
    assert (output.assignment_group, output.caller) == (DATABASE_2, ABEL)
    assert not any("sys_user_group" in url for url in instance.urls)
    assert any("sysparm_query=email%3Dabel.tuter%40example.com" in url for url in instance.urls)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"assignment_group": "No Such Group"}, "no assignment group named No Such Group"),
        ({"assignment_group": "Database"}, "more than one assignment group named Database"),
        ({"caller": "nobody"}, "no user with user_name nobody"),
        ({"caller": "nobody@example.com"}, "no user with email nobody@example.com"),
    ],
)
async def test_unknown_or_ambiguous_references_insert_nothing(
    snow: FakeServer, instance: fake.Instance, ca: trustme.CA, changes: dict[str, str],
    message: str
) -> None:
    before = len(instance.tables["incident"])
    with pytest.raises(PermanentError, match=message):
        await _create(_ctx(snow, ca, _key()), short_description="x", **changes)
    assert len(instance.tables["incident"]) == before


async def test_insert_acl_refusal_quotes_servicenow(
    snow: FakeServer, instance: fake.Instance, ca: trustme.CA
) -> None:
    instance.insert_denied.add("incident")
    try:
        with pytest.raises(CredentialError) as caught:
            await _create(_ctx(snow, ca, _key()), short_description="Denied")
    finally:
        instance.insert_denied.discard("incident")
    assert str(caught.value) == (
        "ServiceNow refused POST /api/now/table/incident (HTTP 403): Operation Failed: "
        "ACL Exception Insert Failed due to security constraints"
    )


async def test_table_api_insert_checks_the_bearer_token(snow: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(CredentialError, match="User Not Authenticated"):
        await client.post(
            _ctx(snow, ca), "not-a-token", "/api/now/table/incident", {"short_description": "x"},
            {},
        )


class _LostHttp:
    """The egress contract for a POST whose answer never came (WF-6: outcome unknown)."""

    async def request(self, method: str, url: object, **_: object) -> httpx.Response:
        raise TransientError("POST acme.service-now.com: timed out", outcome_unknown=True,
                             retry_after=5.0)


async def test_wf6_a_lost_insert_stays_outcome_unknown() -> None:
    ctx = ToolContext(
        connection_id="PTEST",
        config=INTEGRATION.config.model_validate({"url": f"https://{HOST}"}),
        secrets=INTEGRATION.secrets.model_validate(SECRETS),
        http=_LostHttp(),
    )
    with pytest.raises(TransientError, match="refused POST") as caught:
        await client.post(ctx, "token", "/api/now/table/incident", {"short_description": "x"}, {})
    assert caught.value.outcome_unknown and caught.value.retry_after == 5.0


@pytest.mark.parametrize(
    "data",
    [
        {"short_description": ""},
        {"short_description": "x" * 161},
        {"short_description": "x", "description": "x" * 4001},
        {"short_description": "x", "urgency": 4},
        {"short_description": "x", "impact": 0},
        {"short_description": "x", "assignment_group": "Payments^ORname=Database"},
        {"short_description": "x", "caller": "abel\ntuter"},
        {"short_description": "x", "caller": "x" * 101},
        {"short_description": "x", "priority": 1},
    ],
)
def test_create_incident_input_is_validated(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CreateIncidentInput.model_validate(data)


def test_wf5_correlation_ids_from_idempotency_keys_are_stable() -> None:
    first = actions.correlation_id("run-1:step-2")
    assert first == actions.correlation_id("run-1:step-2") != actions.correlation_id("run-1:x")
    assert re.fullmatch(r"fireline:[0-9a-f-]{36}", first)
