from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.new_relic import INTEGRATION
from fireline.integrations.new_relic.schema import RunNrqlInput, RunNrqlOutput
from tests.integrations.fakes import new_relic as fake
from tests.integrations.recording import assert_no_secret_in_urls, recording
from tests.integrations.support import FakeServer, serve, tool_context

API_KEY = "NRAK-ABCDEFGHIJKLMNOPQRSTUVWXYZ1"
ACCOUNT = 1234567
EVENTS = [
    {"eventType": "TransactionError", "appName": "checkout", "error.message": "card declined"},
    {"eventType": "TransactionError", "appName": "checkout", "error.message": "timeout"},
    {"eventType": "TransactionError", "appName": "ledger", "error.message": "deadlock"},
    {"eventType": "Transaction", "appName": "checkout", "duration": 0.3},
]


@pytest.fixture(scope="module")
def state() -> fake.NewRelicState:
    return fake.NewRelicState(API_KEY, "oncall@example.com", {ACCOUNT: "Production"}, EVENTS)


@pytest.fixture(scope="module")
def nr(
    state: fake.NewRelicState, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    hosts = ("api.newrelic.com", "api.eu.newrelic.com")
    with serve(fake.make_app(state), ca, tmp_path_factory.mktemp("nr"), *hosts) as server:
        yield server


def _ctx(
    nr: FakeServer,
    ca: trustme.CA,
    *,
    region: str = "US",
    account: int = ACCOUNT,
    key: str = API_KEY,
) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"region": region, "account_id": account},
        secrets={"api_key": key},
        routes=nr.routes(443),
        ca=ca,
    )


@pytest.mark.parametrize("region", ["US", "EU"])
async def test_verify_healthy(nr: FakeServer, ca: trustme.CA, region: str) -> None:
    assert await INTEGRATION.verify(_ctx(nr, ca, region=region)) == (
        f"Connected as oncall@example.com to account Production ({region})"
    )


async def test_verify_wrong_key_is_a_credential_error(nr: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(CredentialError):
        await INTEGRATION.verify(_ctx(nr, ca, key="NRAK-WRONG"))


async def test_verify_graphql_forbidden_in_a_200_is_a_credential_error(
    nr: FakeServer, ca: trustme.CA
) -> None:
    with pytest.raises(CredentialError, match="Access denied"):
        await INTEGRATION.verify(_ctx(nr, ca, account=7654321))


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(
        INTEGRATION,
        config={"region": "US", "account_id": ACCOUNT},
        secrets={"api_key": API_KEY},
        routes={},
        ca=ca,
    )
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


@pytest.mark.parametrize(
    ("query", "results"),
    [
        ("SELECT count(*) FROM TransactionError SINCE 30 minutes ago", [{"count": 3}]),
        (
            "SELECT error.message FROM TransactionError WHERE appName = 'checkout'",
            [{"error.message": "card declined"}, {"error.message": "timeout"}],
        ),
        (
            "SELECT * FROM Transaction LIMIT 5",
            [{"appName": "checkout", "duration": 0.3}],
        ),
    ],
)
async def test_run_nrql(
    nr: FakeServer,
    ca: trustme.CA,
    state: fake.NewRelicState,
    query: str,
    results: list[dict[str, object]],
) -> None:
    action = INTEGRATION.action("run_nrql")
    assert action is not None and action.idempotent
    output = await action.run(_ctx(nr, ca), RunNrqlInput(query=query))
    assert isinstance(output, RunNrqlOutput)
    assert output.results == results and output.count == len(results)
    # The NRQL travels as a GraphQL variable, never spliced into the document.
    sent = state.documents[-1]
    assert sent["variables"] == {"accountId": ACCOUNT, "nrql": query, "timeout": 30}
    assert query not in sent["query"]


async def test_run_nrql_syntax_error_is_permanent(nr: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("run_nrql")
    assert action is not None
    with pytest.raises(PermanentError, match="NRQL Syntax Error"):
        await action.run(_ctx(nr, ca), RunNrqlInput(query="SELEKT nothing"))


def test_run_nrql_input_is_validated() -> None:
    with pytest.raises(ValidationError):
        RunNrqlInput(query="")
    with pytest.raises(ValidationError):
        RunNrqlInput(query="SELECT 1", timeout_seconds=600)


@pytest.mark.parametrize(
    ("region", "host"), [("US", "api.newrelic.com"), ("EU", "api.eu.newrelic.com")]
)
def test_net6_region_is_pinned_to_its_host(region: str, host: str) -> None:
    config = INTEGRATION.config.model_validate({"region": region, "account_id": ACCOUNT})
    assert INTEGRATION.destination(config).hosts == (host,)
    assert INTEGRATION.credential_fields == ("region",)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"region": "APAC", "account_id": ACCOUNT}, "region"),
        ({"region": "US", "account_id": "12ab"}, "account_id"),
        ({"region": "US", "account_id": 0}, "greater than 0"),
        ({"region": "US"}, "account_id"),
    ],
)
def test_config_validation_errors_are_clear(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        INTEGRATION.config.model_validate(config)


async def test_sec7_no_secret_in_any_url(nr: FakeServer, ca: trustme.CA) -> None:
    ctx, recorder = recording(_ctx(nr, ca))
    await INTEGRATION.verify(ctx)
    action = INTEGRATION.action("run_nrql")
    assert action is not None
    await action.run(ctx, RunNrqlInput(query="SELECT count(*) FROM Transaction"))
    assert_no_secret_in_urls(recorder, API_KEY)
