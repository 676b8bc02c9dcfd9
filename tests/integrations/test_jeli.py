from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.jeli import INTEGRATION, actions
from fireline.integrations.jeli.schema import (
    CreateIncidentInput,
    CreateIncidentOutput,
    CreatePostIncidentReviewInput,
    CreatePostIncidentReviewOutput,
    ListIncidentsInput,
    ListIncidentsOutput,
)
from tests.integrations.fakes import jeli as fake
from tests.integrations.support import FakeServer, serve, tool_context

TOKEN = "jeli-Tk42-canary-token-value"


@pytest.fixture(scope="module")
def account() -> fake.Account:
    return fake.Account(
        token=TOKEN,
        incidents=[
            {
                "id": "old",
                "title": "DNS outage",
                "status": "resolved",
                "created_at": "2026-10-01T00:00:00+00:00",
            }
        ],
    )


@pytest.fixture(scope="module")
def jeli(
    account: fake.Account, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    app = fake.make_app(account)
    with serve(app, ca, tmp_path_factory.mktemp("jeli"), "api.jeli.io") as server:
        yield server


def _ctx(
    jeli: FakeServer, ca: trustme.CA, token: str = TOKEN, idempotency_key: str | None = None
) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"username": "ada@example.com"},
        secrets={"api_token": token},
        routes=jeli.routes(443),
        ca=ca,
        idempotency_key=idempotency_key,
    )


async def test_verify_healthy(jeli: FakeServer, account: fake.Account, ca: trustme.CA) -> None:
    account.requests.clear()
    assert await INTEGRATION.verify(_ctx(jeli, ca)) == (
        "Connected to Jeli with ada@example.com's API token"
    )
    assert account.requests == [("GET", "/v1/incidents")]  # read-only


async def test_verify_wrong_token_is_a_credential_error(jeli: FakeServer, ca: trustme.CA) -> None:
    with pytest.raises(CredentialError, match="Invalid authentication token"):
        await INTEGRATION.verify(_ctx(jeli, ca, token="revoked-token"))


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(
        INTEGRATION, config={"username": "a"}, secrets={"api_token": TOKEN}, routes={}, ca=ca
    )
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


async def test_create_incident_then_list_it(
    jeli: FakeServer, account: fake.Account, ca: trustme.CA
) -> None:
    # The fake outlives one event loop's run of this module: back to the seeded incident.
    del account.incidents[1:]
    create = INTEGRATION.action("create_incident")
    listing = INTEGRATION.action("list_incidents")
    assert create is not None and not create.idempotent
    assert listing is not None and listing.idempotent
    started = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    created = await create.run(
        _ctx(jeli, ca),
        CreateIncidentInput(
            title="Checkout errors", summary="5xx spike", severity="SEV2", started_at=started
        ),
    )
    assert isinstance(created, CreateIncidentOutput)
    assert created.incident.title == "Checkout errors"
    assert created.incident.created_by == "ada@example.com"
    assert created.incident.created_at == started.isoformat()
    assert account.incidents[-1]["severity"] == "SEV2"

    found = await listing.run(_ctx(jeli, ca), ListIncidentsInput(status="open"))
    assert isinstance(found, ListIncidentsOutput)
    assert [i.id for i in found.incidents] == [created.incident.id]
    by_title = await listing.run(_ctx(jeli, ca), ListIncidentsInput(title_contains="dns"))
    assert isinstance(by_title, ListIncidentsOutput)
    assert [i.id for i in by_title.incidents] == ["old"]


async def test_create_post_incident_review_of_an_incident(
    jeli: FakeServer, account: fake.Account, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("create_post_incident_review")
    assert action is not None and not action.idempotent
    account.opportunities.clear()
    account.requests.clear()
    created = await action.run(
        _ctx(jeli, ca, idempotency_key="run-3:review"),
        CreatePostIncidentReviewInput(
            name="DNS outage review", incident_id="old", summary="Resolver **cache** expired"
        ),
    )
    assert isinstance(created, CreatePostIncidentReviewOutput)
    review = created.review
    assert (review.name, review.incident_id) == ("DNS outage review", "old")
    assert review.created_by == "ada@example.com"
    assert review.url == f"https://app.jeli.io/opportunities/{review.id}"
    reference = actions._reference("run-3:review")
    assert review.summary == f"Resolver **cache** expired\n\nFireline reference: {reference}"
    (stored,) = account.opportunities
    assert (stored["name"], stored["incident_id"]) == ("DNS outage review", "old")
    # WF-5: looked up (that incident's reviews) before creating.
    assert account.requests == [("GET", "/v1/opportunities"), ("POST", "/v1/opportunities")]


async def test_wf5_review_retried_with_the_same_key_creates_one_review(
    jeli: FakeServer, account: fake.Account, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("create_post_incident_review")
    assert action is not None
    account.opportunities.clear()
    data = CreatePostIncidentReviewInput(name="Checkout review")
    first = await action.run(_ctx(jeli, ca, idempotency_key="run-4:review"), data)
    account.requests.clear()
    again = await action.run(_ctx(jeli, ca, idempotency_key="run-4:review"), data)
    assert account.requests == [("GET", "/v1/opportunities")]  # found: nothing created
    other = await action.run(_ctx(jeli, ca, idempotency_key="run-5:review"), data)
    assert isinstance(first, CreatePostIncidentReviewOutput)
    assert isinstance(again, CreatePostIncidentReviewOutput)
    assert isinstance(other, CreatePostIncidentReviewOutput)
    assert first.review.id == again.review.id != other.review.id
    assert first.review.incident_id is None
    assert [row["name"] for row in account.opportunities] == ["Checkout review"] * 2


async def test_review_without_a_run_key_has_no_reference_and_no_look_up(
    jeli: FakeServer, account: fake.Account, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("create_post_incident_review")
    assert action is not None
    account.requests.clear()
    created = await action.run(_ctx(jeli, ca), CreatePostIncidentReviewInput(name="Ad hoc"))
    assert isinstance(created, CreatePostIncidentReviewOutput)
    assert created.review.summary is None
    assert account.requests == [("POST", "/v1/opportunities")]


async def test_review_errors(jeli: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("create_post_incident_review")
    assert action is not None
    data = CreatePostIncidentReviewInput(name="Review", incident_id="missing")
    with pytest.raises(PermanentError, match=r"HTTP 404\): Incident not found"):
        await action.run(_ctx(jeli, ca), data)
    with pytest.raises(CredentialError, match="Invalid authentication token"):
        await action.run(_ctx(jeli, ca, token="revoked-token", idempotency_key="run-6:r"), data)


def test_wf5_review_references_are_stable_and_distinct() -> None:
    first = actions._reference("run-1:review")
    assert first == actions._reference("run-1:review") != actions._reference("run-2:review")
    assert "run-1" not in first


def test_inputs_and_config_are_validated() -> None:
    with pytest.raises(ValidationError):
        CreateIncidentInput(title="")
    with pytest.raises(ValidationError):
        ListIncidentsInput(limit=0)
    with pytest.raises(ValidationError):
        CreatePostIncidentReviewInput(name="")
    with pytest.raises(ValidationError):
        CreatePostIncidentReviewInput(name="x", incident_id="../incidents")
    with pytest.raises(ValidationError):
        CreatePostIncidentReviewInput.model_validate({"name": "x", "owner": "ada"})
    with pytest.raises(ValidationError, match="username"):
        INTEGRATION.config.model_validate({})


def test_destination_is_the_jeli_api_only() -> None:
    config = INTEGRATION.config.model_validate({"username": "a"})
    assert INTEGRATION.destination(config).hosts == ("api.jeli.io",)
    assert set(INTEGRATION.secrets.model_fields) == {"api_token"}
