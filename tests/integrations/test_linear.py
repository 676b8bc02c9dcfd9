from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.linear import INTEGRATION, actions
from fireline.integrations.linear.schema import (
    CommentOnIssueInput,
    CommentOutput,
    CreateIssueInput,
    GetIssueInput,
    IssueOutput,
    SearchIssuesInput,
    SearchIssuesOutput,
)
from tests.integrations.fakes import linear as fake
from tests.integrations.support import FakeServer, serve, tool_context

KEY = "lin_api_Zx81canaryPersonalKeyValue0000000000"
ENG = {"id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "key": "ENG", "name": "Engineering"}
OPS = {"id": "1a2b3c4d-0000-4000-8000-000000000001", "key": "OPS", "name": "Operations"}


@pytest.fixture(scope="module")
def workspace() -> fake.Workspace:
    return fake.Workspace(
        api_key=KEY,
        viewer={"id": "u1", "name": "Ada Lovelace", "email": "ada@example.com"},
        teams=[ENG, OPS],
    )


@pytest.fixture(scope="module")
def linear(
    workspace: fake.Workspace, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    app = fake.make_app(workspace)
    with serve(app, ca, tmp_path_factory.mktemp("linear"), "api.linear.app") as server:
        yield server


def _ctx(
    linear: FakeServer, ca: trustme.CA, key: str = KEY, idempotency_key: str | None = None
) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={},
        secrets={"api_key": key},
        routes=linear.routes(443),
        ca=ca,
        idempotency_key=idempotency_key,
    )


async def test_verify_names_the_viewer(
    linear: FakeServer, workspace: fake.Workspace, ca: trustme.CA
) -> None:
    workspace.operations.clear()
    assert await INTEGRATION.verify(_ctx(linear, ca)) == (
        "Connected to Linear as Ada Lovelace <ada@example.com>"
    )
    assert workspace.operations == ["Viewer"]  # a query, never a mutation


@pytest.mark.parametrize("key", ["lin_api_wrong", f"Bearer {KEY}"])
async def test_verify_wrong_key_is_a_credential_error(
    linear: FakeServer, ca: trustme.CA, key: str
) -> None:
    with pytest.raises(CredentialError, match="authenticate"):
        await INTEGRATION.verify(_ctx(linear, ca, key=key))


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(INTEGRATION, config={}, secrets={"api_key": KEY}, routes={}, ca=ca)
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


async def test_create_issue_by_team_key_then_get_and_search(
    linear: FakeServer, workspace: fake.Workspace, ca: trustme.CA
) -> None:
    # The fake outlives one event loop's run of this module: start from no issues.
    workspace.issues.clear()
    create = INTEGRATION.action("create_issue")
    assert create is not None and not create.idempotent
    created = await create.run(
        _ctx(linear, ca),
        CreateIssueInput(team="eng", title="Checkout latency", description="p99 > 2s", priority=1),
    )
    assert isinstance(created, IssueOutput)
    issue = created.issue
    assert issue.identifier.startswith("ENG-")
    assert (issue.title, issue.priority, issue.priority_label) == ("Checkout latency", 1, "Urgent")
    assert issue.team_key == "ENG"
    assert issue.url.endswith(f"/issue/{issue.identifier}/checkout-latency")

    get = INTEGRATION.action("get_issue")
    assert get is not None and get.idempotent
    fetched = await get.run(_ctx(linear, ca), GetIssueInput(issue=issue.identifier))
    assert isinstance(fetched, IssueOutput)
    assert fetched.issue.id == issue.id
    assert fetched.issue.description == "p99 > 2s"

    await create.run(_ctx(linear, ca), CreateIssueInput(team=OPS["id"], title="Latency alarm"))
    search = INTEGRATION.action("search_issues")
    assert search is not None and search.idempotent
    found = await search.run(_ctx(linear, ca), SearchIssuesInput(term="LATENCY"))
    assert isinstance(found, SearchIssuesOutput)
    assert {i.title for i in found.issues} >= {"Checkout latency", "Latency alarm"}
    only_ops = await search.run(_ctx(linear, ca), SearchIssuesInput(term="latency", team="ops"))
    assert isinstance(only_ops, SearchIssuesOutput)
    assert [i.title for i in only_ops.issues] == ["Latency alarm"]


async def test_wf5_create_issue_retried_with_the_same_key_creates_one_issue(
    linear: FakeServer, workspace: fake.Workspace, ca: trustme.CA
) -> None:
    create = INTEGRATION.action("create_issue")
    assert create is not None
    data = CreateIssueInput(team="ENG", title="Retried step")
    first = await create.run(_ctx(linear, ca, idempotency_key="run-1:step-2"), data)
    again = await create.run(_ctx(linear, ca, idempotency_key="run-1:step-2"), data)
    other = await create.run(_ctx(linear, ca, idempotency_key="run-2:step-2"), data)
    assert isinstance(first, IssueOutput) and isinstance(again, IssueOutput)
    assert isinstance(other, IssueOutput)
    assert first.issue.id == again.issue.id != other.issue.id
    assert sum(1 for i in workspace.issues if i["title"] == "Retried step") == 2


async def test_unknown_team_and_issue_are_clear_permanent_errors(
    linear: FakeServer, ca: trustme.CA
) -> None:
    create = INTEGRATION.action("create_issue")
    get = INTEGRATION.action("get_issue")
    assert create is not None and get is not None
    with pytest.raises(PermanentError, match="no team with key NOPE"):
        await create.run(_ctx(linear, ca), CreateIssueInput(team="nope", title="x"))
    with pytest.raises(PermanentError, match="Could not find referenced Issue"):
        await get.run(_ctx(linear, ca), GetIssueInput(issue="ENG-999"))


async def test_comment_on_issue_by_identifier_and_by_id(
    linear: FakeServer, workspace: fake.Workspace, ca: trustme.CA
) -> None:
    create = INTEGRATION.action("create_issue")
    comment = INTEGRATION.action("comment_on_issue")
    assert create is not None and comment is not None and not comment.idempotent
    created = await create.run(_ctx(linear, ca), CreateIssueInput(team="OPS", title="Disk full"))
    assert isinstance(created, IssueOutput)
    issue = created.issue
    by_identifier = await comment.run(
        _ctx(linear, ca), CommentOnIssueInput(issue=issue.identifier, body="**Mitigated** at 10:02")
    )
    by_id = await comment.run(_ctx(linear, ca), CommentOnIssueInput(issue=issue.id, body="Closed"))
    assert isinstance(by_identifier, CommentOutput) and isinstance(by_id, CommentOutput)
    first = by_identifier.comment
    assert (first.issue_id, first.issue_identifier) == (issue.id, issue.identifier)
    assert (first.body, first.user) == ("**Mitigated** at 10:02", "Ada Lovelace")
    assert first.url.startswith(f"{issue.url}#comment-")
    assert by_id.comment.id != first.id
    stored = [c["body"] for c in workspace.comments if c["issueId"] == issue.id]
    assert stored == ["**Mitigated** at 10:02", "Closed"]


async def test_wf5_comment_retried_with_the_same_key_posts_one_comment(
    linear: FakeServer, workspace: fake.Workspace, ca: trustme.CA
) -> None:
    create = INTEGRATION.action("create_issue")
    comment = INTEGRATION.action("comment_on_issue")
    assert create is not None and comment is not None
    created = await create.run(_ctx(linear, ca), CreateIssueInput(team="ENG", title="Flaky"))
    assert isinstance(created, IssueOutput)
    data = CommentOnIssueInput(issue=created.issue.identifier, body="Retried comment")
    workspace.comments.clear()  # the fake outlives one event loop's run of this module
    workspace.operations.clear()
    first = await comment.run(_ctx(linear, ca, idempotency_key="run-7:note"), data)
    again = await comment.run(_ctx(linear, ca, idempotency_key="run-7:note"), data)
    other = await comment.run(_ctx(linear, ca, idempotency_key="run-8:note"), data)
    assert isinstance(first, CommentOutput) and isinstance(again, CommentOutput)
    assert isinstance(other, CommentOutput)
    assert first.comment.id == again.comment.id != other.comment.id
    assert first.comment.id == actions._comment_id("run-7:note")
    assert sum(1 for c in workspace.comments if c["body"] == "Retried comment") == 2
    # Looked up first every time; created only when the look-up found nothing.
    assert workspace.operations == [
        "CommentById",
        "CommentCreate",
        "CommentById",
        "CommentById",
        "CommentCreate",
    ]


async def test_comment_errors(linear: FakeServer, ca: trustme.CA) -> None:
    comment = INTEGRATION.action("comment_on_issue")
    assert comment is not None
    with pytest.raises(PermanentError, match="Could not find referenced Issue"):
        await comment.run(_ctx(linear, ca), CommentOnIssueInput(issue="ENG-999", body="x"))
    with pytest.raises(CredentialError, match="authenticate"):
        await comment.run(
            _ctx(linear, ca, key="lin_api_wrong"), CommentOnIssueInput(issue="ENG-1", body="x")
        )


def test_inputs_are_validated() -> None:
    with pytest.raises(ValidationError):
        CreateIssueInput(team="ENG", title="x", priority=7)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        CreateIssueInput(team="ENG } mutation {", title="x")
    with pytest.raises(ValidationError):
        GetIssueInput(issue="")
    with pytest.raises(ValidationError):
        CommentOnIssueInput(issue="ENG-1", body="")
    with pytest.raises(ValidationError):
        CommentOnIssueInput(issue='ENG-1") { id } #', body="x")
    with pytest.raises(ValidationError):
        CommentOnIssueInput.model_validate({"issue": "ENG-1", "body": "x", "parent": "c1"})


def test_destination_is_the_linear_api_only() -> None:
    destination = INTEGRATION.destination(INTEGRATION.config())
    assert destination.hosts == ("api.linear.app",)
    assert destination.ports == (443,)
    assert set(INTEGRATION.secrets.model_fields) == {"api_key"}
    with pytest.raises(ValidationError):
        INTEGRATION.config.model_validate({"url": "https://evil.example"})


class _RefusingHttp:
    """The egress contract for a GraphQL refusal with HTTP 400 (PermanentError + body)."""

    def __init__(self, body: str) -> None:
        self.body = body

    async def request(self, method: str, url: object, **_: object) -> httpx.Response:
        raise PermanentError(f"400: {self.body}")


@pytest.mark.parametrize(
    ("extensions", "expected"),
    [
        ({"code": "AUTHENTICATION_ERROR"}, CredentialError),
        ({"type": "authentication error"}, CredentialError),
        ({"code": "INVALID_INPUT"}, PermanentError),
    ],
)
async def test_graphql_errors_on_http_400_are_translated(
    extensions: dict[str, str], expected: type[Exception]
) -> None:
    body = json.dumps({"errors": [{"message": "refused", "extensions": extensions}]})
    ctx = ToolContext(
        connection_id="PTEST",
        config=INTEGRATION.config(),
        secrets=INTEGRATION.secrets.model_validate({"api_key": KEY}),
        http=_RefusingHttp(body),
    )
    with pytest.raises(expected, match="Linear: refused") as caught:
        await INTEGRATION.verify(ctx)
    assert type(caught.value) is expected


def test_wf5_issue_ids_from_idempotency_keys_are_stable_uuid4s() -> None:
    first = actions._issue_id("run-1:step-2")
    assert first == actions._issue_id("run-1:step-2") != actions._issue_id("run-1:step-3")
    assert uuid.UUID(first).version == 4
    comment = actions._comment_id("run-1:step-2")
    assert comment == actions._comment_id("run-1:step-2") != first
    assert uuid.UUID(comment).version == 4
