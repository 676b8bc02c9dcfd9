"""Every OAuth tool (Slack, GitHub, Confluence, Microsoft Entra ID) through `fireline serve`:
the whole connect flow as a user's browser drives it, then every action, then a refresh.

The signed-in owner adds the connection (session cookie + CSRF header) and gets the provider's
authorization URL; the test, playing the browser, follows it to the provider fake (reached by
its real host name over TLS), which redirects back to the served process's
`/integrations/oauth/callback/<tool>`; the served process exchanges the code over egress,
verifies the connection, and stores it `connected` and Healthy. Each action then runs once in a
manually started workflow. Finally the connection is reconnected while the provider hands out a
token that is about to expire: the served process's own health monitor refreshes it (a
`refresh_token` grant the provider records), the connection stays Healthy, and the actions
succeed again with the refreshed token (GitHub and Slack kill the token they replace).
Slack's flow is also clicked through in Chromium, its requests for slack.com answered by the
fake.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpcore
import httpx
import pytest
import trustme
from playwright.sync_api import Route, expect

from tests.integrations.fakes._oauth import AuthorizationServer, Grant, Issued
from tests.integrations.fakes.confluence import FakeAtlassian, FakePage, FakeSite
from tests.integrations.fakes.entra_id import FakeMicrosoft, FakeUser
from tests.integrations.fakes.github import FakeCommit, FakeGitHub, FakeRepo
from tests.integrations.fakes.slack import FakeChannel, FakeSlack
from tests.integrations.support import ca_bundle, serve
from tests.served import web
from tests.served.conftest import base_env
from tests.served.harness import Served, wait_until

# A token this close to expiry (seconds) is already within two seconds of the served process's
# refresh margin (`tokens.REFRESH_MARGIN`, 60 s): the monitor refreshes it moments later.
SHORT_TTL = 63

SITE = "1324a887-45db-1bf4-1e99-ef0ff456d421"
TENANT = "84841066-274d-4ec0-a5c1-276be684bdd3"
ONCALL = "02bd9fd6-8f93-4758-87c3-1fb73740a315"
ADA = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
GRACE = "5d6f1b57-2f6b-4c1e-9d0e-6a1b2c3d4e5f"


@dataclass(frozen=True)
class OAuthCase:
    slug: str
    prefix: str  # FIRELINE_<prefix>_CLIENT_ID / _CLIENT_SECRET
    client_id: str
    client_secret: str
    # Builds the provider fake; the redirect URIs are registered once the port is known.
    fake: Callable[[str, str], Any]
    hosts: tuple[str, ...]
    authorize: tuple[str, str]  # the authorization URL's host and path
    pkce: bool
    steps: tuple[tuple[str, dict[str, Any]], ...]
    # Checks the outputs (by action name) against the fake's state.
    check: Callable[[Any, dict[str, Any]], None]
    # What the callback stores in the configuration (from the token answer or the provider).
    configuration: dict[str, Any] = field(default_factory=dict)


def _slack(client_id: str, client_secret: str) -> FakeSlack:
    return FakeSlack(client_id=client_id, client_secret=client_secret, redirect_uris=(),
                     rotation=True, channels=[
                         FakeChannel("C0INCIDENT", "incidents", is_member=True),
                         FakeChannel("C0GENERAL", "general"),
                         FakeChannel("G0HIDDEN", "not-invited", is_private=True)])


def _check_slack(fake: FakeSlack, outputs: dict[str, Any]) -> None:
    posted = outputs["post_message"]
    assert posted["channel"] == "C0INCIDENT"
    incidents = fake.channel("C0INCIDENT")
    assert incidents is not None
    assert incidents.messages[-1]["ts"] == posted["ts"]
    assert incidents.messages[-1]["text"] == "Checkout is down (served)"
    # The incident channels made by earlier runs are archived by then: not listed.
    names = {channel["name"] for channel in outputs["list_channels"]["channels"]}
    assert names == {"incidents", "general"}
    made = outputs["create_incident_channel"]
    # inc-<number>-<title>: the run's incident is "slack after connecting" (or "...refresh").
    assert re.fullmatch(r"inc-\d+-slack-after-(connecting|the-refresh)", made["name"]), made
    assert made["created"] is True and made["is_private"] is False
    channel = fake.channel(made["id"])
    assert channel is not None and channel.name == made["name"]
    assert outputs["set_channel_topic"] == {"channel": made["id"],
                                            "topic": "Checkout is down (served)"}
    assert channel.topic == "Checkout is down (served)"
    bookmark = outputs["add_bookmark"]
    assert (bookmark["channel"], bookmark["created"]) == (made["id"], True)
    assert [(b["id"], b["title"], b["link"]) for b in channel.bookmarks] == [
        (bookmark["id"], "Runbook", "https://wiki.example.com/runbooks/checkout")]
    dm = fake.dm("U0ADA")
    sent = outputs["send_direct_message"]
    assert dm is not None and sent["channel"] == dm.id
    assert (dm.messages[-1]["ts"], dm.messages[-1]["text"]) == (
        sent["ts"], "You are the incident commander (served)")
    assert outputs["archive_channel"] == {"channel": made["id"], "already_archived": False}
    assert channel.is_archived


def _github(client_id: str, client_secret: str) -> FakeGitHub:
    from tests.integrations.fakes.github import FakeDeployment, FakeStatus

    return FakeGitHub(client_id=client_id, client_secret=client_secret, redirect_uris=(),
                      login="octocat", installations=("acme",), repos={
                          "acme/api": FakeRepo(commits=[
                              FakeCommit(sha=f"{i:040x}", message=f"change {i}",
                                         date=f"2026-11-0{i}T12:00:00Z")
                              for i in range(1, 4)], deployments=[
                              FakeDeployment(
                                  id=70 + i, sha=f"{i:040x}", ref="main",
                                  environment="staging" if i == 3 else "production",
                                  created_at=f"2026-11-0{i}T13:00:00Z",
                                  statuses=[FakeStatus("success" if i == 1 else "failure",
                                                       f"2026-11-0{i}T13:05:00Z")])
                              for i in range(1, 4)])})


def _check_github(fake: FakeGitHub, outputs: dict[str, Any]) -> None:
    commits = outputs["recent_commits"]["commits"]
    assert [commit["message"] for commit in commits] == ["change 3", "change 2", "change 1"]
    issue = outputs["create_issue"]
    stored = fake.repos["acme/api"].issues[-1]
    assert (issue["number"], issue["title"]) == (stored["number"], "Checkout is down (served)")
    assert issue["html_url"] == f"https://github.com/acme/api/issues/{stored['number']}"
    deployments = outputs["list_deployments"]["deployments"]
    assert [(d["id"], d["environment"], d["status"]["state"]) for d in deployments] == [
        (72, "production", "failure"), (71, "production", "success")]


def _confluence(client_id: str, client_secret: str) -> FakeAtlassian:
    return FakeAtlassian(client_id=client_id, client_secret=client_secret, redirect_uris=(),
                         sites=[FakeSite(SITE, "acme", pages=[
                             FakePage("98301", "Checkout runbook", "OPS",
                                      "<p>When <strong>checkout</strong> fails, restart the "
                                      "payment worker.</p>", labels=("runbook",), version=7),
                             FakePage("98303", "Team lunch", "SOCIAL", "<p>Pizza.</p>")])])


def _check_confluence(fake: FakeAtlassian, outputs: dict[str, Any]) -> None:
    found = outputs["search_pages"]
    assert [hit["title"] for hit in found["results"]] == ["Checkout runbook"]
    page = outputs["get_page"]
    assert (page["id"], page["title"], page["version"]) == ("98301", "Checkout runbook", 7)
    assert "restart the payment worker" in page["body"]


def _entra_id(client_id: str, client_secret: str) -> FakeMicrosoft:
    return FakeMicrosoft(client_id=client_id, client_secret=client_secret, redirect_uris=(),
                         tenant_id=TENANT, tenant_name="Contoso", users=[
                             FakeUser(ADA, "Ada Lovelace", "ada@contoso.com",
                                      mail="ada@contoso.com", job_title="SRE"),
                             FakeUser(GRACE, "Grace Hopper", "grace@contoso.com")],
                         groups={ONCALL: [ADA, GRACE]})


def _check_entra_id(fake: FakeMicrosoft, outputs: dict[str, Any]) -> None:
    user = outputs["get_user"]
    assert (user["id"], user["display_name"], user["job_title"]) == (ADA, "Ada Lovelace", "SRE")
    members = outputs["list_group_members"]["members"]
    assert [member["id"] for member in members] == [ADA, GRACE]


CASES = (
    OAuthCase(
        slug="slack", prefix="SLACK", client_id="111.222",
        client_secret="slack-client-secret-value", fake=_slack, hosts=("slack.com",),
        authorize=("slack.com", "/oauth/v2/authorize"), pkce=False,
        steps=(("post_message", {"channel": "#incidents", "text": "Checkout is down (served)"}),
               ("list_channels", {}),
               ("create_incident_channel",
                {"name": "inc-{{ incident.incident_number }}-{{ incident.title }}"}),
               ("set_channel_topic", {"channel": "{{ steps.step2.output.id }}",
                                      "topic": "Checkout is down (served)"}),
               ("add_bookmark", {"channel": "{{ steps.step2.output.id }}", "title": "Runbook",
                                 "link": "https://wiki.example.com/runbooks/checkout"}),
               ("send_direct_message", {"user": "U0ADA",
                                        "text": "You are the incident commander (served)"}),
               ("archive_channel", {"channel": "{{ steps.step2.output.id }}"})),
        check=_check_slack,
        configuration={"team_id": "T0FIRE", "team_name": "Fireline Ops", "bot_user_id": "U0BOT"},
    ),
    OAuthCase(
        slug="github", prefix="GITHUB", client_id="Iv1.fireline",
        client_secret="github-client-secret-value", fake=_github,
        hosts=("github.com", "api.github.com"),
        authorize=("github.com", "/login/oauth/authorize"), pkce=True,
        steps=(("recent_commits", {"owner": "acme", "repo": "api"}),
               ("create_issue", {"owner": "acme", "repo": "api",
                                 "title": "Checkout is down (served)"}),
               ("list_deployments", {"owner": "acme", "repo": "api",
                                     "environment": "production"})),
        check=_check_github,
        configuration={"login": "octocat", "organizations": ["acme"]},
    ),
    OAuthCase(
        slug="confluence", prefix="CONFLUENCE", client_id="atl-client-id",
        client_secret="atl-client-secret-value", fake=_confluence,
        hosts=("auth.atlassian.com", "api.atlassian.com"),
        authorize=("auth.atlassian.com", "/authorize"), pkce=False,
        steps=(("search_pages", {"cql": 'text ~ "checkout" AND space = "OPS"'}),
               ("get_page", {"page_id": "98301"})),
        check=_check_confluence,
        configuration={"cloud_id": SITE, "site_url": "https://acme.atlassian.net",
                       "site_name": "acme"},
    ),
    OAuthCase(
        slug="entra_id", prefix="ENTRA_ID", client_id="6731de76-14a6-49ae-97bc-6eba6914391e",
        client_secret="entra-client-secret-value", fake=_entra_id,
        hosts=("login.microsoftonline.com", "graph.microsoft.com"),
        authorize=("login.microsoftonline.com", "/organizations/oauth2/v2.0/authorize"),
        pkce=True,
        steps=(("get_user", {"user": "ada@contoso.com"}),
               ("list_group_members", {"group_id": ONCALL})),
        check=_check_entra_id,
        configuration={"tenant_id": TENANT, "tenant_name": "Contoso"},
    ),
)


# -- the user's browser at the provider -----------------------------------------------------
class _RoutedBackend(httpcore.NetworkBackend):
    """A provider's real (host, port) answers at the fake's loopback port (name resolution is
    all that changes: URL, SNI, certificate name and Host header are the real ones)."""

    def __init__(self, routes: Mapping[tuple[str, int], int]) -> None:
        self._routes = dict(routes)
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        target = self._routes.get((host, port))
        if target is None:
            raise httpcore.ConnectError(f"no route to {host}:{port} in this test")
        return self._inner.connect_tcp("127.0.0.1", target, timeout=timeout)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _provider_browser(routes: Mapping[tuple[str, int], int], ca: trustme.CA) -> httpx.Client:
    transport = httpx.HTTPTransport(
        verify=ssl.create_default_context(cafile=str(ca_bundle(ca))))
    transport._pool._network_backend = _RoutedBackend(routes)  # test-only routing
    return httpx.Client(transport=transport, trust_env=False, timeout=10,
                        follow_redirects=False)


# -- the served process and its providers ----------------------------------------------------
@dataclass
class Running:
    served: Served
    fakes: dict[str, Any]
    routes: dict[tuple[str, int], int]
    ca: trustme.CA

    def callback(self, case: OAuthCase) -> str:
        return f"{self.served.base_url}/integrations/oauth/callback/{case.slug}"


@pytest.fixture(scope="module")
def running(served_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp: Path = tmp_path_factory.mktemp("served-oauth")
    fakes = {case.slug: case.fake(case.client_id, case.client_secret) for case in CASES}
    routes: dict[tuple[str, int], int] = {}
    with ExitStack() as stack:
        for case in CASES:
            server = stack.enter_context(serve(fakes[case.slug].app, served_ca, tmp, *case.hosts))
            routes.update({(host, 443): server.port for host in case.hosts})
        clients = {name: value for case in CASES for name, value in {
            f"FIRELINE_{case.prefix}_CLIENT_ID": case.client_id,
            f"FIRELINE_{case.prefix}_CLIENT_SECRET": case.client_secret}.items()}
        with Served.start({**base_env(served_ca, routes), **clients}) as served:
            found = Running(served=served, fakes=fakes, routes=routes, ca=served_ca)
            # The OAuth app's registered callback: exact, and known only now (the port).
            for case in CASES:
                oauth: AuthorizationServer = fakes[case.slug].oauth
                oauth.redirect_uris = (found.callback(case),)
            yield found


def _connect(running: Running, browser: httpx.Client, case: OAuthCase,
             authorization_url: str) -> httpx.Response:
    """Consent at the provider, then its redirect back to the served callback."""
    authorize = urlsplit(authorization_url)
    assert (authorize.scheme, authorize.netloc, authorize.path) == ("https", *case.authorize)
    query = parse_qs(authorize.query)
    assert query["redirect_uri"] == [running.callback(case)]
    assert query["client_id"] == [case.client_id]
    assert ("code_challenge" in query) is case.pkce
    with _provider_browser(running.routes, running.ca) as provider:
        consent = provider.get(authorization_url)
    assert consent.status_code in (302, 303), consent.text
    back = urlsplit(consent.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == running.callback(case)
    assert "code" in parse_qs(back.query), consent.headers["location"]
    return browser.get(f"{back.path}?{back.query}", follow_redirects=True)  # to its page


def _run_actions(served: Served, case: OAuthCase, connection_id: str,
                 title: str) -> dict[str, Any]:
    run = served.run_workflow({
        "name": f"every {case.slug} action ({title})",
        "steps": [{"id": f"step{index}", "action": f"{case.slug}.{action}",
                   "connection": connection_id, "with": inputs}
                  for index, (action, inputs) in enumerate(case.steps)],
    }, title=f"{case.slug} {title}")
    assert run["status"] == "succeeded", (run, served.log()[-4000:])
    return {action: step["output"]
            for (action, _), step in zip(case.steps, run["steps"], strict=True)}


def _next_token_expires_soon(oauth: AuthorizationServer) -> None:
    """The provider's next token lives SHORT_TTL seconds; every later one the usual time."""
    usual = oauth.issue

    def issue(grant: Grant, *, refresh_token: str | None = None) -> Issued:
        del oauth.issue  # back to the provider's own
        lifetime, oauth.access_ttl = oauth.access_ttl, SHORT_TTL
        try:
            return usual(grant, refresh_token=refresh_token)
        finally:
            oauth.access_ttl = lifetime

    oauth.issue = issue  # type: ignore[method-assign]


def _grants(oauth: AuthorizationServer, since: int = 0) -> list[str | None]:
    return [request.get("grant_type") for request in oauth.token_requests[since:]]


@pytest.mark.parametrize("case", CASES, ids=[case.slug for case in CASES])
def test_an_oauth_tool_connects_runs_every_action_and_refreshes(
    running: Running, case: OAuthCase
) -> None:
    served, fake = running.served, running.fakes[case.slug]
    oauth: AuthorizationServer = fake.oauth
    with closing(served.browser()) as browser:
        # Add: stored pending, and the provider's authorization URL to send the browser to.
        added = browser.post(f"/api/workflows/integrations/{case.slug}/connections",
                             json={"connection": {"name": f"{case.slug} (served OAuth)"}})
        assert added.status_code == 201, added.text
        body = added.json()
        connection_id = body["connection"]["id"]
        assert body["connection"]["oauth_state"] == "pending"
        assert body["connection"]["health"]["status"] == "Unknown"

        page = _connect(running, browser, case, body["authorization_url"])
        assert page.status_code == 200, (page.text, served.log()[-4000:])
        assert "connected" in page.text

        # The code exchange happened in the served process, over egress, as the OAuth client.
        exchange = oauth.token_requests[-1]
        assert exchange.get("grant_type") == "authorization_code"
        assert exchange.get("redirect_uri") == running.callback(case)
        assert ("code_verifier" in exchange) is case.pkce
        connection = served.connection(case.slug, connection_id)
        assert connection["oauth_state"] == "connected"
        assert connection["health"]["status"] == "Healthy", connection["health"]
        assert connection["configuration"] == case.configuration
        assert set(connection["secrets"]) == {"access_token", "refresh_token", "expires_at"}
        checks = served.health_checks(case.slug, connection_id)
        assert [(c["trigger"], c["is_healthy"]) for c in checks] == [("connect", True)]

        case.check(fake, _run_actions(served, case, connection_id, "after connecting"))

        # Reconnect while the provider hands out a token that is about to expire: the served
        # process refreshes it by itself (the health monitor, through egress).
        again = browser.post(
            f"/api/workflows/integrations/{case.slug}/connections/{connection_id}/authorize")
        assert again.status_code == 200, again.text
        _next_token_expires_soon(oauth)
        before = len(oauth.token_requests)
        page = _connect(running, browser, case, again.json()["authorization_url"])
        assert page.status_code == 200, (page.text, served.log()[-4000:])
        assert _grants(oauth, before)[0] == "authorization_code"

    wait_until(f"the served process to refresh the {case.slug} token",
               lambda: "refresh_token" in _grants(oauth, before), timeout=30)
    refresh = next(r for r in oauth.token_requests[before:]
                   if r.get("grant_type") == "refresh_token")
    assert refresh.get("refresh_token"), refresh
    seen = {check["id"] for check in served.health_checks(case.slug, connection_id)}

    def checked_since() -> list[dict[str, Any]]:
        return [c for c in served.health_checks(case.slug, connection_id)
                if c["id"] not in seen and c["trigger"] == "periodic"]

    later = wait_until(f"a {case.slug} check after the refresh", checked_since)
    assert all(check["is_healthy"] for check in later), later
    connection = served.connection(case.slug, connection_id)
    assert connection["oauth_state"] == "connected"
    assert connection["health"]["status"] == "Healthy", connection["health"]

    # The refreshed token is the one in use now (GitHub killed the one it replaced).
    case.check(fake, _run_actions(served, case, connection_id, "after the refresh"))
    assert _grants(oauth, before).count("refresh_token") == 1, _grants(oauth, before)


def test_an_action_refreshes_a_token_that_is_about_to_expire(
    served_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> None:
    case = next(c for c in CASES if c.slug == "github")
    fake: FakeGitHub = case.fake(case.client_id, case.client_secret)
    tmp = tmp_path_factory.mktemp("served-oauth-expiry")
    with serve(fake.app, served_ca, tmp, *case.hosts) as server:
        routes = {(host, 443): server.port for host in case.hosts}
        env = {**base_env(served_ca, routes),
               # No periodic check gets there first: only the action can refresh.
               "FIRELINE_HEALTH_CHECK_INTERVAL_SECONDS": "3600",
               f"FIRELINE_{case.prefix}_CLIENT_ID": case.client_id,
               f"FIRELINE_{case.prefix}_CLIENT_SECRET": case.client_secret}
        with Served.start(env) as served, closing(served.browser()) as browser:
            running = Running(served=served, fakes={case.slug: fake}, routes=routes,
                              ca=served_ca)
            fake.oauth.redirect_uris = (running.callback(case),)
            added = browser.post(f"/api/workflows/integrations/{case.slug}/connections",
                                 json={"connection": {"name": "expiring"}})
            assert added.status_code == 201, added.text
            _next_token_expires_soon(fake.oauth)
            page = _connect(running, browser, case, added.json()["authorization_url"])
            assert page.status_code == 200, page.text
            # Within the refresh margin for the served process, and expired at the provider.
            time.sleep(SHORT_TTL - 60 + 1)
            fake.oauth.advance(SHORT_TTL + 1)
            case.check(fake, _run_actions(served, case, added.json()["connection"]["id"],
                                          "with a token about to expire"))
            assert "refresh_token" in _grants(fake.oauth)


def test_confluence_with_several_granted_sites_asks_which_one_on_the_connections_page(
    running: Running,
) -> None:
    """Atlassian grants two sites and the Add form named none: the connection's page lists
    them ("Select the Confluence site to integrate"); Accept stores the chosen one and checks
    it."""
    case = next(c for c in CASES if c.slug == "confluence")
    served, fake = running.served, running.fakes["confluence"]
    other = "9d2c4e11-0b7a-4f3e-8c55-2a1b3c4d5e6f"
    fake.sites[other] = FakeSite(other, "acme-eu", pages=[])
    fake.granted = (SITE, other)
    try:
        with closing(served.browser()) as browser:
            added = browser.post("/api/workflows/integrations/confluence/connections",
                                 json={"connection": {"name": "two sites (served)"}})
            assert added.status_code == 201, added.text
            connection_id = added.json()["connection"]["id"]
            page = _connect(running, browser, case, added.json()["authorization_url"])
            assert page.status_code == 200, (page.text, served.log()[-4000:])
            assert "Select the Confluence site to integrate" in page.text
            assert f'value="{SITE}"' in page.text and f'value="{other}"' in page.text
            health = served.connection("confluence", connection_id)["health"]
            assert "no Confluence site selected yet" in str(health), health

            chosen = browser.post(
                f"/integrations/workflow-integrations/confluence/connections/{connection_id}"
                "/choice", data={"choice": other,
                                 "csrf_token": browser.headers["X-CSRF-Token"]})
            assert chosen.status_code == 303, chosen.text
            after = browser.get(chosen.headers["location"])
            assert "Select the Confluence site" not in after.text
            assert "is Healthy" in after.text  # the flash after the check
        connection = served.connection("confluence", connection_id)
        assert connection["configuration"]["cloud_id"] == other
        assert connection["health"]["status"] == "Healthy", connection["health"]
    finally:
        fake.granted = (SITE,)
        del fake.sites[other]


def test_slack_connects_in_chromium_through_the_redirect_flow(
    running: Running, chromium: web.Chromium
) -> None:
    """The product text's Slack flow clicked in a real browser: Add Connection, Add, Slack's
    consent (the fake, reached by Chromium for slack.com), back to the connection's page,
    Connected and Healthy."""
    case = next(c for c in CASES if c.slug == "slack")
    served = running.served
    web.remember_secret(case.client_secret, "Slack's client secret")
    web.remember_secret(served.owner_password, "the owner's password")
    context = chromium.new_context(served.base_url)
    provider = _provider_browser(running.routes, running.ca)
    try:
        def at_provider(route: Route) -> None:
            # Chromium's request for slack.com is answered by the fake, redirect and all.
            request = route.request
            answer = provider.request(request.method, request.url,
                                      content=request.post_data_buffer)
            route.fulfill(status=answer.status_code, body=answer.content, headers={
                name: value for name, value in answer.headers.items()
                if name.lower() not in {"content-length", "content-encoding"}})

        for host in case.hosts:
            context.route(re.compile(rf"^https://{re.escape(host)}/"), at_provider)
        page = context.new_page()
        page.goto("/")
        web.sign_in(page, served.owner_email, served.owner_password)
        menu = page.get_by_role("navigation", name="Main")
        menu.get_by_text("Integrations", exact=True).click()
        menu.get_by_role("link", name="Workflow Integrations").click()
        page.get_by_role("link", name="Add Connection to Slack Bot Integration").click()
        hint = page.get_by_text("you are taken to Slack Bot Integration to authorize")
        expect(hint).to_be_visible()
        web.check_page(page, "integrations-new-slack")
        name = "Incident channel (browser)"
        page.get_by_label("Connection Name").fill(name)
        page.get_by_role("button", name="Add", exact=True).click()

        expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
        assert page.url.startswith(f"{served.base_url}/integrations/"), page.url
        expect(page.locator("dt:text-is('Authorization') + dd")).to_have_text("Connected")
        expect(page.locator("#status")).to_contain_text("Healthy")
        web.check_page(page, "integrations-connection-slack")
        exchange = running.fakes["slack"].oauth.token_requests[-1]
        assert exchange.get("grant_type") == "authorization_code"
        stored = next(c for c in served.connections("slack") if c["name"] == name)
        assert stored["oauth_state"] == "connected"
    finally:
        provider.close()
        if chromium.running:
            context.close()
