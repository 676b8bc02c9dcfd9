"""The OAuth connect flow end to end against a fake Slack (token rotation) and a fake GitHub
(PKCE): Add → provider consent → callback → tokens sealed → verified → refreshed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest
import trustme

from fireline.accounts.permissions import SESSION_COOKIE, csrf_token_for
from fireline.app import create_app
from fireline.connections import tokens
from fireline.core.db import Database
from fireline.integrations.base import SECRET_PLACEHOLDER
from fireline.settings import Settings
from tests.conftest import BASE_URL
from tests.integrations.fakes.github import FakeGitHub
from tests.integrations.fakes.slack import FakeSlack
from tests.integrations.support import OPEN_CLIENTS, ca_bundle, raw_client, routing_resolver, serve

PASSWORD = "a long enough password"
SLACK_CALLBACK = f"{BASE_URL}/integrations/oauth/callback/slack"
GITHUB_CALLBACK = f"{BASE_URL}/integrations/oauth/callback/github"


@pytest.fixture
def slack() -> FakeSlack:
    return FakeSlack(
        client_id="111.222",
        client_secret="slack-client-secret-value",
        redirect_uris=(SLACK_CALLBACK,),
        rotation=True,
    )


@pytest.fixture
def github() -> FakeGitHub:
    return FakeGitHub(
        client_id="Iv1.fireline",
        client_secret="github-client-secret-value",
        redirect_uris=(GITHUB_CALLBACK,),
    )


@pytest.fixture
async def providers(
    slack: FakeSlack,
    github: FakeGitHub,
    ca: trustme.CA,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[dict[tuple[str, int], int]]:
    tmp = tmp_path_factory.mktemp("oauth")
    with (
        serve(slack.app, ca, tmp, "slack.com") as s,
        serve(github.app, ca, tmp, "github.com", "api.github.com") as g,
    ):
        yield {**s.routes(443), **g.routes(443)}
        # Close kept-alive client connections before the fakes stop waiting for them.
        while OPEN_CLIENTS:
            await OPEN_CLIENTS.pop().aclose()


@pytest.fixture
def settings(db: Database, home, master_key: str, ca: trustme.CA) -> Settings:  # type: ignore[no-untyped-def]
    return Settings.from_env(
        {
            "FIRELINE_HOME": str(home),
            "FIRELINE_DATABASE_URL": db.url,
            "FIRELINE_BASE_URL": BASE_URL,
            "FIRELINE_MASTER_KEY": master_key,
            "FIRELINE_EGRESS_ALLOW_PRIVATE": "127.0.0.0/8",
            "FIRELINE_EGRESS_CA_BUNDLE": str(ca_bundle(ca)),
            "FIRELINE_SLACK_CLIENT_ID": "111.222",
            "FIRELINE_SLACK_CLIENT_SECRET": "slack-client-secret-value",
            "FIRELINE_GITHUB_CLIENT_ID": "Iv1.fireline",
            "FIRELINE_GITHUB_CLIENT_SECRET": "github-client-secret-value",
        }
    )


@pytest.fixture
async def app(settings: Settings, db: Database, providers: dict[tuple[str, int], int]):  # type: ignore[no-untyped-def]
    application = create_app(settings, database=db, resolver=routing_resolver(providers))
    yield application
    await application.state.tools.aclose()  # no lifespan under ASGITransport


@pytest.fixture
async def browser(app, make_actor) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """A signed-in admin's browser session (cookie + CSRF header)."""
    await make_actor("admin", email="admin@example.com", password=PASSWORD)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        await http.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
        http.headers["X-CSRF-Token"] = csrf_token_for(http.cookies[SESSION_COOKIE])
        yield http


async def _consent(url: str, routes: dict[tuple[str, int], int], ca: trustme.CA) -> str:
    """The user approves at the provider, which redirects back to Fireline's callback."""
    answer = await raw_client(routes, ca).get(url)
    assert answer.status_code in (302, 303), answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{BASE_URL}/integrations/oauth/callback/")
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


async def test_slack_connect_verify_and_rotating_refresh(
    browser: httpx.AsyncClient,
    providers: dict[tuple[str, int], int],
    ca: trustme.CA,
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    added = await browser.post(
        "/api/workflows/integrations/slack/connections", json={"connection": {"name": "Ops Slack"}}
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["connection"]["oauth_state"] == "pending"
    assert body["connection"]["health"]["status"] == "Unknown"
    authorize = urlsplit(body["authorization_url"])
    assert (authorize.scheme, authorize.netloc, authorize.path) == (
        "https",
        "slack.com",
        "/oauth/v2/authorize",
    )

    page = await browser.get(await _consent(body["authorization_url"], providers, ca))
    assert page.status_code == 303, page.text
    page = await browser.get(page.headers["location"])  # the connection page, with the flash
    assert "connected" in page.text

    url = f"/api/workflows/integrations/slack/connections/{body['connection']['id']}"
    connection = (await browser.get(url)).json()["connection"]
    assert connection["oauth_state"] == "connected"
    assert connection["health"]["is_healthy"] is True
    assert connection["configuration"]["team_name"] == "Fireline Ops"
    assert connection["secrets"] == {
        "access_token": SECRET_PLACEHOLDER,
        "expires_at": SECRET_PLACEHOLDER,
        "refresh_token": SECRET_PLACEHOLDER,
    }
    exchanges = len(slack.oauth.token_requests)

    # 13 hours later the 12-hour token is stale: verifying refreshes it first, once.
    later = tokens.clock() + 13 * 3600
    monkeypatch.setattr(tokens, "clock", lambda: later)
    assert (await browser.post(f"{url}/verify")).json()["connection"]["health"]["is_healthy"]
    assert (await browser.post(f"{url}/verify")).json()["connection"]["health"]["is_healthy"]
    refreshes = slack.oauth.token_requests[exchanges:]
    assert [r.get("grant_type") for r in refreshes] == ["refresh_token"]

    # The app is uninstalled: the next refresh is refused → Unhealthy, reconnect.
    slack.revoke()
    monkeypatch.setattr(tokens, "clock", lambda: later + 13 * 3600)
    checked = (await browser.post(f"{url}/verify")).json()["connection"]
    assert checked["health"]["is_healthy"] is False
    assert "Reconnect" in checked["health"]["health_message"]
    assert checked["oauth_state"] == "reconnect"
    again = await browser.post(f"{url}/authorize")
    assert again.json()["authorization_url"].startswith("https://slack.com/oauth/v2/authorize")


async def test_github_uses_pkce_and_state_is_single_use(
    browser: httpx.AsyncClient,
    providers: dict[tuple[str, int], int],
    ca: trustme.CA,
    github: FakeGitHub,
) -> None:
    added = (
        await browser.post(
            "/api/workflows/integrations/github/connections",
            json={"connection": {"name": "GitHub"}},
        )
    ).json()
    query = dict(p.split("=", 1) for p in urlsplit(added["authorization_url"]).query.split("&"))
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    callback = await _consent(added["authorization_url"], providers, ca)
    assert (await browser.get(callback)).status_code == 303
    assert "code_verifier" in github.oauth.token_requests[-1]
    replay = await browser.get(callback)
    assert replay.status_code == 400  # state is single-use
    connection = (
        await browser.get(
            f"/api/workflows/integrations/github/connections/{added['connection']['id']}"
        )
    ).json()["connection"]
    assert connection["configuration"]["login"] == "octocat"
    assert connection["health"]["is_healthy"] is True


async def test_declined_consent_and_foreign_state(
    browser: httpx.AsyncClient,
    app,
    make_actor,
    providers: dict[tuple[str, int], int],  # type: ignore[no-untyped-def]
    ca: trustme.CA,
    slack: FakeSlack,
) -> None:
    added = (
        await browser.post(
            "/api/workflows/integrations/slack/connections", json={"connection": {"name": "Ops"}}
        )
    ).json()
    callback = await _consent(added["authorization_url"], providers, ca)
    # Another signed-in user cannot complete this user's authorization.
    await make_actor("admin", email="other@example.com", password=PASSWORD)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as other:
        await other.post("/login", data={"email": "other@example.com", "password": PASSWORD})
        assert (await other.get(callback)).status_code == 403
    slack.oauth.denied = True
    again = (
        await browser.post(
            f"/api/workflows/integrations/slack/connections/{added['connection']['id']}/authorize"
        )
    ).json()
    declined = await browser.get(await _consent(again["authorization_url"], providers, ca))
    assert declined.status_code == 400 and "access_denied" in declined.text
