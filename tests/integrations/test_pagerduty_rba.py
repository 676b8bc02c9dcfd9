from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.pagerduty_rba import INTEGRATION
from fireline.integrations.pagerduty_rba.schema import Execution, GetExecutionInput, RunJobInput
from tests.integrations.fakes import pagerduty_rba as fake
from tests.integrations.support import FakeServer, serve, tool_context

HOST = "acme.runbook.pagerduty.cloud"
TOKEN = "rba-Tk81-canary-token-value"
JOB = "3b6c19f6-41ee-475f-8fd0-8f1a26f27a9a"


@pytest.fixture(scope="module")
def server() -> fake.Server:
    execution_done = {
        "id": 1,
        "status": "succeeded",
        "permalink": f"https://{HOST}/project/ops/execution/show/1",
        "href": f"https://{HOST}/api/41/execution/1",
        "project": "ops",
        "user": "automation",
        "job": {"id": JOB, "name": "Restart payments"},
        "argstring": "-service payments",
        "date-started": {"unixtime": 1, "date": "2026-11-18T10:00:00Z"},
        "date-ended": {"unixtime": 2, "date": "2026-11-18T10:01:00Z"},
        "successfulNodes": ["web-1", "web-2"],
        "failedNodes": [],
    }
    return fake.Server(
        host=HOST,
        tokens={TOKEN: "automation", "other-user-token-1": "someone"},
        jobs={JOB: {"name": "Restart payments", "project": "ops", "required": ["service"]}},
        run_as={"automation"},
        executions={1: execution_done},
    )


@pytest.fixture(scope="module")
def rba(
    server: fake.Server, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    with serve(fake.make_app(server), ca, tmp_path_factory.mktemp("rba"), HOST) as running:
        yield running


def _ctx(rba: FakeServer, ca: trustme.CA, token: str = TOKEN) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"subdomain": "ACME", "username": "automation"},
        secrets={"token": token},
        routes=rba.routes(443),
        ca=ca,
    )


async def test_verify_reads_the_tokens_user(
    rba: FakeServer, server: fake.Server, ca: trustme.CA
) -> None:
    server.requests.clear()
    assert await INTEGRATION.verify(_ctx(rba, ca)) == f"Connected to {HOST} as automation"
    assert server.requests == [("GET", "/api/41/user/info")]  # read-only


async def test_verify_wrong_token_is_a_credential_error(rba: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(CredentialError, match="not authorized"):
        await INTEGRATION.verify(_ctx(rba, ca, token="wrong-token-xyz"))


async def test_verify_token_of_another_user_is_a_credential_error(
    rba: FakeServer, ca: trustme.CA
) -> None:
    with pytest.raises(CredentialError, match="'someone', not to 'automation'"):
        await INTEGRATION.verify(_ctx(rba, ca, token="other-user-token-1"))


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(
        INTEGRATION,
        config={"subdomain": "acme", "username": "automation"},
        secrets={"token": TOKEN},
        routes={},
        ca=ca,
    )
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


async def test_run_job_with_options_then_get_its_execution(
    rba: FakeServer, server: fake.Server, ca: trustme.CA
) -> None:
    run = INTEGRATION.action("run_job")
    get = INTEGRATION.action("get_execution")
    assert run is not None and not run.idempotent
    assert get is not None and get.idempotent
    started = await run.run(
        _ctx(rba, ca),
        RunJobInput(job_id=JOB, options={"service": "payments"}, as_user="alice"),
    )
    assert isinstance(started, Execution)
    assert started.status == "running"
    assert started.user == "alice"
    assert started.permalink == f"https://{HOST}/project/ops/execution/show/{started.id}"
    assert started.argstring == "-service payments"
    assert server.executions[started.id]["job"]["options"] == {"service": "payments"}

    fetched = await get.run(_ctx(rba, ca), GetExecutionInput(execution_id=started.id))
    assert isinstance(fetched, Execution)
    assert (fetched.id, fetched.job_name) == (started.id, "Restart payments")

    done = await get.run(_ctx(rba, ca), GetExecutionInput(execution_id=1))
    assert isinstance(done, Execution)
    assert done.status == "succeeded"
    assert done.ended_at == "2026-11-18T10:01:00Z"
    assert done.successful_nodes == ["web-1", "web-2"]


async def test_rundeck_errors_are_quoted(rba: FakeServer, ca: trustme.CA) -> None:
    run = INTEGRATION.action("run_job")
    get = INTEGRATION.action("get_execution")
    assert run is not None and get is not None
    with pytest.raises(PermanentError, match="Option 'service' is required"):
        await run.run(_ctx(rba, ca), RunJobInput(job_id=JOB))
    with pytest.raises(PermanentError, match="Job ID does not exist"):
        await run.run(_ctx(rba, ca), RunJobInput(job_id="nope", options={"service": "x"}))
    with pytest.raises(PermanentError, match="Execution ID does not exist: 999"):
        await get.run(_ctx(rba, ca), GetExecutionInput(execution_id=999))


async def test_run_as_without_permission_is_refused(rba: FakeServer, ca: trustme.CA) -> None:
    run = INTEGRATION.action("run_job")
    assert run is not None
    ctx = tool_context(
        INTEGRATION,
        config={"subdomain": "acme", "username": "someone"},
        secrets={"token": "other-user-token-1"},
        routes=rba.routes(443),
        ca=ca,
    )
    with pytest.raises(CredentialError, match="runAs"):
        await run.run(ctx, RunJobInput(job_id=JOB, options={"service": "x"}, as_user="root"))


def test_destination_is_the_accounts_host() -> None:
    config = INTEGRATION.config.model_validate({"subdomain": " Acme ", "username": "u"})
    assert INTEGRATION.destination(config).hosts == (HOST,)
    pasted = INTEGRATION.config.model_validate({"subdomain": HOST, "username": "u"})
    assert INTEGRATION.destination(pasted).hosts == (HOST,)
    assert INTEGRATION.credential_fields == ("subdomain",)


@pytest.mark.parametrize(
    "subdomain",
    ["", "-acme", "acme-", "ac.me", "acme.evil.com", "a" * 64, "acmé", "acme/x", "acme@evil"],
)
def test_subdomain_must_be_a_dns_label(subdomain: str) -> None:
    with pytest.raises(ValidationError, match=r"subdomain of your runbook\.pagerduty\.cloud"):
        INTEGRATION.config.model_validate({"subdomain": subdomain, "username": "u"})


def test_inputs_are_validated() -> None:
    with pytest.raises(ValidationError):
        RunJobInput(job_id="../../system/info")
    with pytest.raises(ValidationError):
        RunJobInput(job_id=JOB, log_level="LOUD")
    with pytest.raises(ValidationError):
        GetExecutionInput(execution_id=0)
