from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.confluence import INTEGRATION
from fireline.integrations.confluence.oauth import (
    PROVIDER,
    Site,
    choose_site,
    connect_details,
    list_sites,
    parse_tokens,
    select_site,
)
from fireline.integrations.confluence.schema import GetPageInput, SearchPagesInput
from tests.integrations.fakes import _oauth
from tests.integrations.fakes.confluence import FakeAtlassian, FakePage, FakeSite
from tests.integrations.support import FakeServer, raw_client, serve, tool_context

CLIENT_ID, CLIENT_SECRET = "atl-client-id", "atl-client-secret"
REDIRECT = "https://fireline.example.com/connections/oauth/callback"
ACME, OTHER, JIRA = (
    "1324a887-45db-1bf4-1e99-ef0ff456d421",
    "9b1d7a6e-0000-4c4c-9a9a-1234567890ab",
    "0f0f0f0f-1111-2222-3333-444444444444",
)
PAGES = [
    FakePage(
        "98301",
        "Checkout runbook",
        "OPS",
        "<p>When <strong>checkout</strong> fails, restart the payment worker.</p>",
        labels=("runbook",),
        version=7,
    ),
    FakePage(
        "98302",
        "Database failover",
        "OPS",
        '<ac:structured-macro ac:name="info"><ac:rich-text-body><p>Promote the replica.</p>'
        "</ac:rich-text-body></ac:structured-macro>",
        labels=("runbook",),
        version=3,
    ),
    FakePage("98303", "Team lunch", "SOCIAL", "<p>Pizza on Friday; checkout the menu.</p>"),
]


@pytest.fixture(scope="module")
def atlassian() -> FakeAtlassian:
    return FakeAtlassian(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=(REDIRECT,),
        sites=[
            FakeSite(ACME, "acme", pages=PAGES),
            FakeSite(OTHER, "acme-sandbox"),
            FakeSite(JIRA, "acme-jira", product="jira"),
        ],
        granted=(ACME,),
    )


@pytest.fixture(scope="module")
def server(
    atlassian: FakeAtlassian, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    with serve(
        atlassian.app,
        ca,
        tmp_path_factory.mktemp("atlassian"),
        "auth.atlassian.com",
        "api.atlassian.com",
    ) as running:
        yield running


def _ctx(server: FakeServer, ca: trustme.CA, token: str, **config: Any) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config=config
        or {"cloud_id": ACME, "site_url": "https://acme.atlassian.net", "site_name": "acme"},
        secrets={"access_token": token},
        routes=server.routes(443),
        ca=ca,
    )


# -- parse_tokens -----------------------------------------------------------------------------
def test_parse_tokens_with_offline_access() -> None:
    tokens = parse_tokens(
        {
            "access_token": "eyJraWQiOi",
            "expires_in": 3600,
            "token_type": "Bearer",
            "refresh_token": "eyJyZWZyZXNo",
            "scope": "read:confluence-content.all offline_access",
        }
    )
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_in) == (
        "eyJraWQiOi",
        "eyJyZWZyZXNo",
        3600,
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."},
            "invalid_grant",
        ),
        ({"error": "access_denied", "error_description": "Unauthorized"}, "access_denied"),
        ({"token_type": "Bearer"}, "no access_token"),
    ],
)
def test_parse_tokens_refusals(body: dict[str, Any], code: str) -> None:
    with pytest.raises(CredentialError, match=code):
        parse_tokens(body)


def test_provider_descriptor() -> None:
    assert PROVIDER.authorize_url == "https://auth.atlassian.com/authorize"
    assert PROVIDER.token_url == "https://auth.atlassian.com/oauth/token"
    assert dict(PROVIDER.extra_authorize_params) == {
        "audience": "api.atlassian.com",
        "prompt": "consent",
    }
    assert "offline_access" in PROVIDER.scopes and PROVIDER.pkce is False


# -- connect and refresh flow -----------------------------------------------------------------
async def test_three_legged_flow_selects_the_site_and_rotates_refresh_tokens(
    atlassian: FakeAtlassian, server: FakeServer, ca: trustme.CA
) -> None:
    client = raw_client(server.routes(443), ca)
    callback = _oauth.callback_params(
        await _oauth.authorize(
            client, PROVIDER, client_id=CLIENT_ID, redirect_uri=REDIRECT, state="st"
        )
    )
    sent = atlassian.oauth.authorize_requests[-1]
    assert (sent["audience"], sent["prompt"], sent["response_type"]) == (
        "api.atlassian.com",
        "consent",
        "code",
    )
    exchange = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": callback["code"],
        "redirect_uri": REDIRECT,
    }
    answer = await _oauth.token_request(client, PROVIDER, exchange, as_json=True)
    tokens = parse_tokens(answer.body)
    assert tokens.expires_in == 3600 and tokens.refresh_token is not None

    # Before a site is chosen the connection has an empty config.
    fresh = tool_context(
        INTEGRATION,
        config={},
        secrets={"access_token": tokens.access_token},
        routes=server.routes(443),
        ca=ca,
    )
    assert "no Confluence site selected yet" in await INTEGRATION.verify(fresh)
    details = await select_site(fresh)
    assert details == {
        "cloud_id": ACME,
        "site_url": "https://acme.atlassian.net",
        "site_name": "acme",
    }
    connected = _ctx(server, ca, tokens.access_token, **details)
    assert await INTEGRATION.verify(connected) == "Connected to Confluence site acme"

    refresh = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": tokens.refresh_token,
    }
    renewed = parse_tokens(
        (await _oauth.token_request(client, PROVIDER, refresh, as_json=True)).body
    )
    assert renewed.refresh_token not in (None, tokens.refresh_token)
    replay = await _oauth.token_request(client, PROVIDER, refresh, as_json=True)
    assert replay.status == 403
    with pytest.raises(CredentialError, match="invalid_grant"):
        parse_tokens(replay.body)
    wrong_client = await _oauth.token_request(
        client, PROVIDER, refresh | {"client_secret": "nope"}, as_json=True
    )
    assert wrong_client.status == 401
    with pytest.raises(CredentialError, match="access_denied"):
        parse_tokens(wrong_client.body)


async def test_authorize_without_audience_is_an_error_page(
    server: FakeServer, ca: trustme.CA
) -> None:
    client = raw_client(server.routes(443), ca)
    response = await client.get(
        PROVIDER.authorize_url,
        params={
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "offline_access",
        },
    )
    assert response.status_code == 400 and "location" not in response.headers


async def test_several_sites_need_a_choice(
    ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> None:
    account = FakeAtlassian(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=(REDIRECT,),
        sites=[
            FakeSite(ACME, "acme"),
            FakeSite(OTHER, "acme-sandbox"),
            FakeSite(JIRA, "acme-jira", product="jira"),
        ],
    )
    with serve(account.app, ca, tmp_path_factory.mktemp("multi"), "api.atlassian.com") as fake:
        ctx = tool_context(
            INTEGRATION,
            config={},
            secrets={"access_token": account.access_token()},
            routes=fake.routes(443),
            ca=ca,
        )
        sites = await list_sites(ctx)
        assert [site.name for site in sites] == [
            "acme",
            "acme-sandbox",
        ]  # the Jira-only site is not one
        with pytest.raises(PermanentError, match=r"Choose the Confluence site.*acme-sandbox"):
            await select_site(ctx)
        assert (await select_site(ctx, OTHER))["site_name"] == "acme-sandbox"
        with pytest.raises(PermanentError):
            await select_site(ctx, JIRA)
        # The site named in the Add form (its URL) is the one the callback connects.
        named = tool_context(
            INTEGRATION,
            config={"site_url": "https://ACME-sandbox.atlassian.net/"},
            secrets={"access_token": account.access_token()},
            routes=fake.routes(443),
            ca=ca,
        )
        assert (await connect_details(named))["cloud_id"] == OTHER


def test_choose_site_rules() -> None:
    one, two = (
        Site("a", "one", "https://one.atlassian.net"),
        Site("b", "two", "https://two.atlassian.net"),
    )
    assert choose_site([one]) is one
    assert choose_site([one, two]) is None
    assert choose_site([one, two], "b") is two
    assert choose_site([], None) is None


# -- verify -----------------------------------------------------------------------------------
async def test_verify_healthy(atlassian: FakeAtlassian, server: FakeServer, ca: trustme.CA) -> None:
    assert await INTEGRATION.verify(_ctx(server, ca, atlassian.access_token())) == (
        "Connected to Confluence site acme"
    )


async def test_verify_expired_or_unknown_token_is_a_credential_error(
    atlassian: FakeAtlassian, server: FakeServer, ca: trustme.CA
) -> None:
    with pytest.raises(CredentialError) as caught:
        await INTEGRATION.verify(_ctx(server, ca, "eyJ-not-issued"))
    assert "eyJ-not-issued" not in str(caught.value)  # SEC-1
    token = atlassian.access_token()
    atlassian.oauth.advance(3601)
    try:
        with pytest.raises(CredentialError):
            await INTEGRATION.verify(_ctx(server, ca, token))
    finally:
        atlassian.oauth.advance(-3601)


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(
        INTEGRATION, config={"cloud_id": ACME}, secrets={"access_token": "t"}, routes={}, ca=ca
    )
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


# -- actions ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cql", "titles"),
    [
        ('type = page AND text ~ "checkout"', ["Checkout runbook", "Team lunch"]),
        ('text ~ "checkout" AND space = OPS', ["Checkout runbook"]),
        ('label = runbook AND NOT title ~ "checkout"', ["Database failover"]),
        ('space = "SOCIAL" OR title ~ "failover"', ["Database failover", "Team lunch"]),
    ],
)
async def test_search_pages_with_cql(
    atlassian: FakeAtlassian, server: FakeServer, ca: trustme.CA, cql: str, titles: list[str]
) -> None:
    action = INTEGRATION.action("search_pages")
    assert action is not None and action.idempotent is True
    result = await action.run(_ctx(server, ca, atlassian.access_token()), SearchPagesInput(cql=cql))
    assert sorted(hit.title for hit in result.results) == titles
    assert result.total_size == len(titles)


async def test_search_pages_output_links_and_excerpts(
    atlassian: FakeAtlassian, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("search_pages")
    assert action is not None
    result = await action.run(
        _ctx(server, ca, atlassian.access_token()),
        SearchPagesInput(cql='text ~ "payment" AND space = OPS', limit=5),
    )
    (hit,) = result.results
    assert hit.id == "98301" and hit.space_key == "OPS"
    assert hit.url == "https://acme.atlassian.net/wiki/spaces/OPS/pages/98301/Checkout+runbook"
    assert "restart the payment worker" in hit.excerpt and "@@@" not in hit.excerpt


async def test_search_pages_bad_cql_and_missing_scope(
    atlassian: FakeAtlassian, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("search_pages")
    assert action is not None
    with pytest.raises(PermanentError, match="Could not parse cql"):
        await action.run(_ctx(server, ca, atlassian.access_token()), SearchPagesInput(cql="text ~"))
    no_search = atlassian.access_token(scopes=("read:confluence-content.all",))
    with pytest.raises(CredentialError, match="scope does not match"):
        await action.run(_ctx(server, ca, no_search), SearchPagesInput(cql='text ~ "x"'))


@pytest.mark.parametrize(
    ("body_format", "expected"),
    [
        (
            "storage",
            '<ac:structured-macro ac:name="info"><ac:rich-text-body><p>Promote the replica.</p>'
            "</ac:rich-text-body></ac:structured-macro>",
        ),
        ("view", "<p>Promote the replica.</p>"),
    ],
)
async def test_get_page(
    atlassian: FakeAtlassian, server: FakeServer, ca: trustme.CA, body_format: str, expected: str
) -> None:
    action = INTEGRATION.action("get_page")
    assert action is not None and action.idempotent is True
    page = await action.run(
        _ctx(server, ca, atlassian.access_token()),
        GetPageInput(page_id="98302", body_format=body_format),  # type: ignore[arg-type]
    )
    assert (page.title, page.space_key, page.version, page.body) == (
        "Database failover",
        "OPS",
        3,
        expected,
    )
    assert page.url == "https://acme.atlassian.net/wiki/spaces/OPS/pages/98302/Database+failover"


async def test_get_page_errors(
    atlassian: FakeAtlassian, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("get_page")
    assert action is not None
    token = atlassian.access_token()
    with pytest.raises(PermanentError, match="No content found"):
        await action.run(_ctx(server, ca, token), GetPageInput(page_id="1"))
    with pytest.raises(PermanentError, match="No Confluence site is selected"):
        await action.run(_ctx(server, ca, token, site_name="acme"), GetPageInput(page_id="98301"))
    with pytest.raises(PermanentError, match="404"):
        await action.run(_ctx(server, ca, token, cloud_id=OTHER), GetPageInput(page_id="98301"))
    with pytest.raises(ValidationError):
        GetPageInput(page_id="../admin")


# -- declaration ------------------------------------------------------------------------------
def test_net6_destination_is_the_atlassian_gateway_only() -> None:
    destination = INTEGRATION.destination(
        INTEGRATION.config(cloud_id=ACME, site_url="https://acme.atlassian.net")
    )
    assert set(destination.hosts) == {"api.atlassian.com", "auth.atlassian.com"}


def test_config_starts_empty_and_validates() -> None:
    assert INTEGRATION.config().model_dump() == {
        "cloud_id": None,
        "site_url": None,
        "site_name": None,
    }
    with pytest.raises(ValidationError, match="https"):
        INTEGRATION.config.model_validate({"site_url": "http://acme.atlassian.net"})
    with pytest.raises(ValidationError, match="cloud_id"):
        INTEGRATION.config.model_validate({"cloud_id": "../../admin"})
