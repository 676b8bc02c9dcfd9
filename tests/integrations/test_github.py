from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.github import INTEGRATION
from fireline.integrations.github.oauth import PROVIDER, connect_details, parse_tokens
from fireline.integrations.github.schema import (
    CreateIssueInput,
    ListDeploymentsInput,
    RecentCommitsInput,
)
from tests.integrations.fakes import _oauth
from tests.integrations.fakes.github import (
    FakeCommit,
    FakeDeployment,
    FakeGitHub,
    FakeRepo,
    FakeStatus,
)
from tests.integrations.support import FakeServer, raw_client, serve, tool_context

CLIENT_ID, CLIENT_SECRET = "Iv1.8a61f9b3a7aba766", "github-client-secret"
REDIRECT = "https://fireline.example.com/connections/oauth/callback"
START = datetime(2026, 11, 1, tzinfo=UTC)


def _commits() -> list[FakeCommit]:
    main = [
        FakeCommit(
            sha=f"{i:040x}",
            message=f"change {i}",
            date=(START + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            author_login=None if i % 50 == 0 else "ada",
        )
        for i in range(250)
    ]
    hotfix = [
        FakeCommit(sha="f" * 40, message="hotfix", date="2026-11-20T00:00:00Z", branch="hotfix")
    ]
    return main + hotfix


def _deployments() -> list[FakeDeployment]:
    def at(hour: int) -> str:
        return (START + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")

    deployments = [
        FakeDeployment(
            id=500 + i,
            sha=f"{i:040x}",
            ref="main",
            environment="production" if i % 2 == 0 else "staging",
            created_at=at(i),
            statuses=[
                FakeStatus("in_progress", at(i)),
                FakeStatus(
                    "failure" if i == 38 else "success",
                    at(i),
                    description=f"deploy {i}",
                    log_url=f"https://ci.example.com/runs/{i}",
                    environment_url="https://shop.example.com",
                ),
            ],
        )
        for i in range(40)
    ]
    # The newest one has not reported anything yet.
    deployments.append(
        FakeDeployment(
            id=600, sha="e" * 40, ref="v2.0.0", environment="production", created_at=at(41)
        )
    )
    return deployments


@pytest.fixture(scope="module")
def github() -> FakeGitHub:
    return FakeGitHub(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=(REDIRECT,),
        login="octocat",
        installations=("acme", "octocat"),
        repos={
            "acme/api": FakeRepo(commits=_commits()),
            "acme/no-issues": FakeRepo(has_issues=False),
            "acme/shop": FakeRepo(deployments=_deployments()),
            "elsewhere/secret": FakeRepo(),
        },
    )


@pytest.fixture(scope="module")
def server(
    github: FakeGitHub, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    with serve(
        github.app, ca, tmp_path_factory.mktemp("github"), "github.com", "api.github.com"
    ) as running:
        yield running


def _ctx(server: FakeServer, ca: trustme.CA, token: str) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"login": "octocat", "organizations": ["acme"]},
        secrets={"access_token": token},
        routes=server.routes(443),
        ca=ca,
        idempotency_key="PRUN:step-1",
    )


# -- parse_tokens -----------------------------------------------------------------------------
def test_parse_tokens_expiring_user_token() -> None:
    tokens = parse_tokens(
        {
            "access_token": "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
            "expires_in": 28800,
            "refresh_token": "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C4",
            "refresh_token_expires_in": 15811200,
            "scope": "",
            "token_type": "bearer",
        }
    )
    assert tokens.access_token.startswith("ghu_") and tokens.expires_in == 28800
    assert tokens.refresh_token is not None and tokens.refresh_token.startswith("ghr_")


def test_parse_tokens_non_expiring_token() -> None:
    tokens = parse_tokens({"access_token": "ghu_x", "scope": "", "token_type": "bearer"})
    assert (tokens.refresh_token, tokens.expires_in) == (None, None)


@pytest.mark.parametrize(
    "error", ["bad_verification_code", "bad_refresh_token", "incorrect_client_credentials"]
)
def test_parse_tokens_http_200_errors_are_credential_errors(error: str) -> None:
    with pytest.raises(CredentialError, match=f"GitHub refused the token request \\({error}\\)"):
        parse_tokens(
            {
                "error": error,
                "error_description": "The code passed is incorrect or expired.",
                "error_uri": "https://docs.github.com/",
            }
        )


def test_provider_descriptor() -> None:
    assert PROVIDER.authorize_url == "https://github.com/login/oauth/authorize"
    assert PROVIDER.token_url == "https://github.com/login/oauth/access_token"
    assert PROVIDER.pkce is True and PROVIDER.scopes == ()
    assert INTEGRATION.oauth is PROVIDER and INTEGRATION.auth == "oauth"


# -- connect and refresh flow -----------------------------------------------------------------
async def test_web_flow_with_pkce_then_refresh_rotates_everything(
    github: FakeGitHub, server: FakeServer, ca: trustme.CA
) -> None:
    client = raw_client(server.routes(443), ca)
    verifier, callback = await _oauth.approve_with_pkce(
        client, PROVIDER, client_id=CLIENT_ID, redirect_uri=REDIRECT
    )
    assert callback["state"] == "st"
    exchange = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": callback["code"],
        "redirect_uri": REDIRECT,
    }
    wrong = await _oauth.token_request(client, PROVIDER, exchange | {"code_verifier": "x" * 43})
    assert wrong.status == 200
    with pytest.raises(CredentialError, match="bad_verification_code"):
        parse_tokens(wrong.body)
    tokens = parse_tokens(
        (await _oauth.token_request(client, PROVIDER, exchange | {"code_verifier": verifier})).body
    )
    ctx = _ctx(server, ca, tokens.access_token)
    assert await connect_details(ctx) == {"login": "octocat", "organizations": ("acme", "octocat")}
    INTEGRATION.config.model_validate(await connect_details(ctx))

    refresh = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token or "",
    }
    renewed = parse_tokens((await _oauth.token_request(client, PROVIDER, refresh)).body)
    assert await INTEGRATION.verify(_ctx(server, ca, renewed.access_token)) == (
        "Connected to GitHub as octocat"
    )
    # GitHub: once a refresh token is used, it and the old access token stop working.
    with pytest.raises(CredentialError):
        await INTEGRATION.verify(ctx)
    with pytest.raises(CredentialError, match="bad_refresh_token"):
        parse_tokens((await _oauth.token_request(client, PROVIDER, refresh)).body)


async def test_token_answer_is_json_only_when_asked(server: FakeServer, ca: trustme.CA) -> None:
    client = raw_client(server.routes(443), ca)
    response = await client.post(PROVIDER.token_url, data={"client_id": CLIENT_ID, "code": "x"})
    assert response.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert "error=incorrect_client_credentials" in response.text


async def test_authorize_redirect_mismatch_and_unknown_client(
    server: FakeServer, ca: trustme.CA
) -> None:
    client = raw_client(server.routes(443), ca)
    mismatch = await _oauth.authorize(
        client, PROVIDER, client_id=CLIENT_ID, redirect_uri="https://evil.example/cb", state="s"
    )
    assert mismatch.headers["location"].startswith(REDIRECT + "?")
    assert _oauth.callback_params(mismatch)["error"] == "redirect_uri_mismatch"
    unknown = await _oauth.authorize(
        client, PROVIDER, client_id="Iv1.unknown", redirect_uri=REDIRECT, state="s"
    )
    assert unknown.status_code == 404


# -- verify -----------------------------------------------------------------------------------
async def test_verify_healthy(github: FakeGitHub, server: FakeServer, ca: trustme.CA) -> None:
    assert await INTEGRATION.verify(_ctx(server, ca, github.user_token())) == (
        "Connected to GitHub as octocat"
    )


async def test_verify_bad_or_expired_token_is_a_credential_error(
    github: FakeGitHub, server: FakeServer, ca: trustme.CA
) -> None:
    with pytest.raises(CredentialError, match="Bad credentials") as caught:
        await INTEGRATION.verify(_ctx(server, ca, "ghu_revoked"))
    assert "ghu_revoked" not in str(caught.value)  # SEC-1
    expiring = github.user_token()
    github.oauth.advance(28_801)
    try:
        with pytest.raises(CredentialError):
            await INTEGRATION.verify(_ctx(server, ca, expiring))
    finally:
        github.oauth.advance(-28_801)


async def test_rate_limit_403_is_transient_not_a_credential_error(
    github: FakeGitHub, server: FakeServer, ca: trustme.CA
) -> None:
    github.rate_limited = True
    try:
        with pytest.raises(TransientError, match="rate limit"):
            await INTEGRATION.verify(_ctx(server, ca, github.user_token()))
        action = INTEGRATION.action("create_issue")
        assert action is not None
        with pytest.raises(TransientError):
            await action.run(
                _ctx(server, ca, github.user_token()),
                CreateIssueInput(owner="acme", repo="api", title="x"),
            )
    finally:
        github.rate_limited = False


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(INTEGRATION, config={}, secrets={"access_token": "ghu_x"}, routes={}, ca=ca)
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


# -- actions ----------------------------------------------------------------------------------
async def test_recent_commits_follows_link_pages_up_to_the_limit(
    github: FakeGitHub, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("recent_commits")
    assert action is not None and action.idempotent is True
    ctx = _ctx(server, ca, github.user_token())
    result = await action.run(ctx, RecentCommitsInput(owner="acme", repo="api", limit=150))
    assert [c.message for c in result.commits] == [f"change {i}" for i in range(249, 99, -1)]
    assert result.commits[0].html_url == f"https://github.com/acme/api/commit/{249:040x}"
    assert (
        result.commits[-1].author_login is None and result.commits[-1].author_name == "Ada Lovelace"
    )
    # `since` may carry any offset: 02:00+02:00 on Nov 11 is START + 240 hours.
    since = datetime(2026, 11, 11, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    recent = await action.run(ctx, RecentCommitsInput(owner="acme", repo="api", since=since))
    assert [c.message for c in recent.commits] == [f"change {i}" for i in range(249, 239, -1)]
    hotfix = await action.run(ctx, RecentCommitsInput(owner="acme", repo="api", branch="hotfix"))
    assert [c.sha for c in hotfix.commits] == ["f" * 40]


async def test_recent_commits_outside_the_installations_is_not_found(
    github: FakeGitHub, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("recent_commits")
    assert action is not None
    with pytest.raises(PermanentError, match="404"):
        await action.run(
            _ctx(server, ca, github.user_token()),
            RecentCommitsInput(owner="elsewhere", repo="secret"),
        )


async def test_create_issue(github: FakeGitHub, server: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("create_issue")
    assert action is not None and action.idempotent is False
    data = CreateIssueInput(
        owner="acme",
        repo="api",
        title="P1: checkout down",
        body="See PD incident",
        labels=["incident"],
    )
    issue = await action.run(_ctx(server, ca, github.user_token()), data)
    stored = github.repos["acme/api"].issues[-1]
    assert (issue.number, issue.state, issue.title) == (
        stored["number"],
        "open",
        "P1: checkout down",
    )
    assert issue.html_url == f"https://github.com/acme/api/issues/{stored['number']}"
    assert stored["labels"] == [{"name": "incident"}] and stored["body"] == "See PD incident"


async def test_create_issue_where_issues_are_disabled_is_permanent(
    github: FakeGitHub, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("create_issue")
    assert action is not None
    with pytest.raises(PermanentError, match=r"acme/no-issues.*Issues are disabled"):
        await action.run(
            _ctx(server, ca, github.user_token()),
            CreateIssueInput(owner="acme", repo="no-issues", title="x"),
        )


async def test_list_deployments_newest_first_with_their_latest_status(
    github: FakeGitHub, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("list_deployments")
    assert action is not None and action.idempotent is True
    ctx = _ctx(server, ca, github.user_token())
    before = len(github.calls)
    result = await action.run(
        ctx, ListDeploymentsInput(owner="acme", repo="shop", environment="production", limit=3)
    )
    assert [(d.id, d.ref, d.environment) for d in result.deployments] == [
        (600, "v2.0.0", "production"),
        (538, "main", "production"),
        (536, "main", "production"),
    ]
    newest, failed, ok = result.deployments
    assert newest.status is None and newest.creator_login == "deploy-bot"
    assert failed.status is not None and ok.status is not None
    assert (failed.status.state, failed.status.log_url) == (
        "failure",
        "https://ci.example.com/runs/38",
    )
    assert (ok.status.state, ok.status.description, ok.status.environment_url) == (
        "success",
        "deploy 36",
        "https://shop.example.com",
    )
    # Bounded: one page of deployments, then one status call per deployment.
    calls = github.calls[before:]
    assert calls[0] == "/repos/acme/shop/deployments" and len(calls) == 4
    assert calls[1:] == [f"/repos/acme/shop/deployments/{d}/statuses" for d in (600, 538, 536)]


async def test_list_deployments_without_statuses_and_every_environment(
    github: FakeGitHub, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("list_deployments")
    assert action is not None
    ctx = _ctx(server, ca, github.user_token())
    before = len(github.calls)
    result = await action.run(
        ctx, ListDeploymentsInput(owner="acme", repo="shop", limit=30, include_status=False)
    )
    assert [d.id for d in result.deployments] == [600, *range(539, 510, -1)]
    assert all(d.status is None for d in result.deployments)
    assert len(github.calls) - before == 1
    none = await action.run(
        ctx, ListDeploymentsInput(owner="acme", repo="api", environment="production")
    )
    assert none.deployments == []
    with pytest.raises(PermanentError, match="404"):
        await action.run(ctx, ListDeploymentsInput(owner="elsewhere", repo="secret"))


def test_inputs_are_validated() -> None:
    with pytest.raises(ValidationError, match="owner"):
        RecentCommitsInput(owner="../etc", repo="api")
    with pytest.raises(ValidationError, match="since"):
        RecentCommitsInput.model_validate(
            {"owner": "a", "repo": "b", "since": "2026-11-01T00:00:00"}
        )
    with pytest.raises(ValidationError, match="title"):
        CreateIssueInput(owner="acme", repo="api", title="")
    with pytest.raises(ValidationError, match="limit"):
        ListDeploymentsInput(owner="acme", repo="shop", limit=31)
    with pytest.raises(ValidationError, match="environment"):
        ListDeploymentsInput(owner="acme", repo="shop", environment="prod\nuction")
    with pytest.raises(ValidationError, match="Extra inputs"):
        ListDeploymentsInput.model_validate({"owner": "a", "repo": "b", "per_page": 5})


# -- declaration ------------------------------------------------------------------------------
def test_net6_destination_is_github_only() -> None:
    assert set(INTEGRATION.destination(INTEGRATION.config()).hosts) == {
        "api.github.com",
        "github.com",
    }


def test_config_starts_empty_and_validates_login() -> None:
    assert INTEGRATION.config().model_dump() == {"login": None, "organizations": None}
    with pytest.raises(ValidationError, match="login"):
        INTEGRATION.config.model_validate({"login": "not a login"})
