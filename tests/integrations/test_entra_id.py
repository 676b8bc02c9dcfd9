from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from pydantic import ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import ToolContext
from fireline.integrations.entra_id import INTEGRATION
from fireline.integrations.entra_id.oauth import PROVIDER, connect_details, parse_tokens
from fireline.integrations.entra_id.schema import GetUserInput, ListGroupMembersInput
from tests.integrations.fakes import _oauth
from tests.integrations.fakes.entra_id import FakeMicrosoft, FakeUser
from tests.integrations.support import FakeServer, raw_client, serve, tool_context

CLIENT_ID, CLIENT_SECRET = "6731de76-14a6-49ae-97bc-6eba6914391e", "entra-client-secret"
REDIRECT = "https://fireline.example.com/connections/oauth/callback"
TENANT = "84841066-274d-4ec0-a5c1-276be684bdd3"
ONCALL = "02bd9fd6-8f93-4758-87c3-1fb73740a315"
NESTED = "b320ee12-b1cd-4cca-b648-a437be61c5cd"
USERS = [
    FakeUser(
        "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
        "Ada Lovelace",
        "ada@contoso.com",
        mail="ada@contoso.com",
        job_title="SRE",
        department="Platform",
        mobile_phone="+1 555 0100",
    ),
    FakeUser(
        "5d6f1b57-2f6b-4c1e-9d0e-6a1b2c3d4e5f",
        "Guest Grace",
        "grace_example.com#EXT#@contoso.onmicrosoft.com",
    ),
    *(
        FakeUser(f"{i:08x}-0000-4000-8000-000000000000", f"Responder {i}", f"r{i}@contoso.com")
        for i in range(1, 1200)
    ),
]


@pytest.fixture(scope="module")
def microsoft() -> FakeMicrosoft:
    return FakeMicrosoft(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=(REDIRECT,),
        tenant_id=TENANT,
        users=USERS,
        groups={ONCALL: [USERS[0].id, NESTED, *(u.id for u in USERS[1:1100])], NESTED: []},
    )


@pytest.fixture(scope="module")
def server(
    microsoft: FakeMicrosoft, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    with serve(
        microsoft.app,
        ca,
        tmp_path_factory.mktemp("microsoft"),
        "login.microsoftonline.com",
        "graph.microsoft.com",
    ) as running:
        yield running


def _ctx(server: FakeServer, ca: trustme.CA, token: str) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"tenant_id": TENANT, "tenant_name": "Contoso"},
        secrets={"access_token": token},
        routes=server.routes(443),
        ca=ca,
    )


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


# -- parse_tokens -----------------------------------------------------------------------------
def test_parse_tokens_reads_the_tenant_from_the_id_token() -> None:
    tokens = parse_tokens(
        {
            "token_type": "Bearer",
            "scope": "User.Read User.Read.All",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": "eyJ0eXAi.access",
            "refresh_token": "0.AAAA-refresh",
            "id_token": _jwt({"tid": TENANT, "aud": CLIENT_ID}),
        }
    )
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_in) == (
        "eyJ0eXAi.access",
        "0.AAAA-refresh",
        3599,
    )
    assert dict(tokens.details) == {"tenant_id": TENANT}


@pytest.mark.parametrize("id_token", [None, "not-a-jwt", "a.%%%.c", _jwt({"aud": "x"})])
def test_parse_tokens_without_a_usable_id_token_has_no_tenant(id_token: str | None) -> None:
    body = {"access_token": "a", "expires_in": "3599", "id_token": id_token}
    tokens = parse_tokens({k: v for k, v in body.items() if v is not None})
    assert tokens.details == {} and tokens.expires_in == 3599


def test_parse_tokens_refusal_keeps_the_aadsts_code_not_the_trace() -> None:
    with pytest.raises(CredentialError) as caught:
        parse_tokens(
            {
                "error": "invalid_grant",
                "error_description": "AADSTS700082: The refresh token has expired due to "
                "inactivity.\r\nTrace ID: 0000\r\nCorrelation ID: 1111",
                "error_codes": [700082],
            }
        )
    assert "(invalid_grant): AADSTS700082" in str(caught.value)
    assert "Trace ID" not in str(caught.value)


def test_provider_descriptor() -> None:
    base = "https://login.microsoftonline.com/organizations/oauth2/v2.0"
    assert (PROVIDER.authorize_url, PROVIDER.token_url) == (f"{base}/authorize", f"{base}/token")
    assert PROVIDER.pkce is True
    assert {"offline_access", "User.Read.All", "openid"} <= set(PROVIDER.scopes)


# -- connect and refresh flow -----------------------------------------------------------------
async def test_code_flow_with_pkce_learns_the_tenant_and_refreshes(
    microsoft: FakeMicrosoft, server: FakeServer, ca: trustme.CA
) -> None:
    client = raw_client(server.routes(443), ca)
    verifier, callback = await _oauth.approve_with_pkce(
        client, PROVIDER, client_id=CLIENT_ID, redirect_uri=REDIRECT
    )
    exchange = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": callback["code"],
        "redirect_uri": REDIRECT,
        "scope": " ".join(PROVIDER.scopes),
    }
    mismatch = await _oauth.token_request(client, PROVIDER, exchange | {"code_verifier": "z" * 43})
    assert mismatch.status == 400
    with pytest.raises(CredentialError, match="AADSTS501481"):
        parse_tokens(mismatch.body)
    tokens = parse_tokens(
        (await _oauth.token_request(client, PROVIDER, exchange | {"code_verifier": verifier})).body
    )
    assert tokens.details == {"tenant_id": TENANT} and tokens.expires_in == 3599
    ctx = _ctx(server, ca, tokens.access_token)
    assert await connect_details(ctx) == {"tenant_id": TENANT, "tenant_name": "Contoso"}

    refresh = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": tokens.refresh_token or "",
    }
    no_scope = await _oauth.token_request(client, PROVIDER, refresh)
    with pytest.raises(CredentialError, match="AADSTS900144"):
        parse_tokens(no_scope.body)
    refresh["scope"] = " ".join(PROVIDER.scopes)
    renewed = parse_tokens((await _oauth.token_request(client, PROVIDER, refresh)).body)
    assert renewed.refresh_token not in (None, tokens.refresh_token)
    assert await INTEGRATION.verify(_ctx(server, ca, renewed.access_token))
    bad_secret = await _oauth.token_request(client, PROVIDER, refresh | {"client_secret": "x"})
    assert bad_secret.status == 401
    with pytest.raises(CredentialError, match="invalid_client"):
        parse_tokens(bad_secret.body)

    # A code is single-use.
    redeemed = await _oauth.token_request(client, PROVIDER, exchange | {"code_verifier": verifier})
    with pytest.raises(CredentialError, match="AADSTS54005"):
        parse_tokens(redeemed.body)


async def test_authorize_refuses_unknown_redirect_without_redirecting(
    server: FakeServer, ca: trustme.CA
) -> None:
    client = raw_client(server.routes(443), ca)
    response = await _oauth.authorize(
        client, PROVIDER, client_id=CLIENT_ID, redirect_uri="https://evil.example/cb", state="s"
    )
    assert response.status_code == 400 and "AADSTS50011" in response.text


# -- verify -----------------------------------------------------------------------------------
async def test_verify_healthy(microsoft: FakeMicrosoft, server: FakeServer, ca: trustme.CA) -> None:
    assert await INTEGRATION.verify(_ctx(server, ca, microsoft.access_token())) == (
        f"Connected to Microsoft Entra tenant Contoso ({TENANT})"
    )


async def test_verify_expired_token_is_a_credential_error(
    microsoft: FakeMicrosoft, server: FakeServer, ca: trustme.CA
) -> None:
    token = microsoft.access_token()
    microsoft.oauth.advance(3600)
    try:
        with pytest.raises(CredentialError, match="InvalidAuthenticationToken") as caught:
            await INTEGRATION.verify(_ctx(server, ca, token))
        assert token not in str(caught.value)  # SEC-1
    finally:
        microsoft.oauth.advance(-3600)


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(INTEGRATION, config={}, secrets={"access_token": "t"}, routes={}, ca=ca)
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


# -- actions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["ada@contoso.com", "87d349ed-44d7-43e1-9a83-5f2406dee5bd"])
async def test_get_user_by_upn_or_id(
    microsoft: FakeMicrosoft, server: FakeServer, ca: trustme.CA, key: str
) -> None:
    action = INTEGRATION.action("get_user")
    assert action is not None and action.idempotent is True
    user = await action.run(_ctx(server, ca, microsoft.access_token()), GetUserInput(user=key))
    assert user.model_dump() == {
        "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
        "display_name": "Ada Lovelace",
        "user_principal_name": "ada@contoso.com",
        "mail": "ada@contoso.com",
        "job_title": "SRE",
        "department": "Platform",
        "account_enabled": True,
        "mobile_phone": "+1 555 0100",
        "office_location": None,
    }


async def test_get_user_guest_upn_is_encoded(
    microsoft: FakeMicrosoft, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("get_user")
    assert action is not None
    guest = await action.run(
        _ctx(server, ca, microsoft.access_token()),
        GetUserInput(user="grace_example.com#EXT#@contoso.onmicrosoft.com"),
    )
    assert guest.display_name == "Guest Grace"


async def test_get_user_errors(
    microsoft: FakeMicrosoft, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("get_user")
    assert action is not None
    with pytest.raises(PermanentError, match="Request_ResourceNotFound"):
        await action.run(
            _ctx(server, ca, microsoft.access_token()), GetUserInput(user="nobody@contoso.com")
        )
    basic = microsoft.access_token(scopes=("User.Read",))
    with pytest.raises(CredentialError, match="Authorization_RequestDenied"):
        await action.run(_ctx(server, ca, basic), GetUserInput(user="ada@contoso.com"))
    with pytest.raises(ValidationError):
        GetUserInput(user="ada@contoso.com/manager")


async def test_list_group_members_follows_next_links(
    microsoft: FakeMicrosoft, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("list_group_members")
    assert action is not None and action.idempotent is True
    ctx = _ctx(server, ca, microsoft.access_token())
    everyone = await action.run(ctx, ListGroupMembersInput(group_id=ONCALL, limit=5000))
    # 1101 members: two pages of 999 + 102.
    assert len(everyone.members) == 1101
    assert everyone.members[0].user_principal_name == "ada@contoso.com"
    assert (everyone.members[1].type, everyone.members[1].id) == ("group", NESTED)
    assert everyone.members[0].type == "user"
    first = await action.run(ctx, ListGroupMembersInput(group_id=ONCALL, limit=3))
    assert [m.id for m in first.members] == [m.id for m in everyone.members[:3]]
    with pytest.raises(PermanentError, match="Request_ResourceNotFound"):
        await action.run(
            ctx, ListGroupMembersInput(group_id="00000000-0000-0000-0000-000000000000")
        )


# -- declaration ------------------------------------------------------------------------------
def test_net6_destination_is_microsoft_only() -> None:
    assert set(INTEGRATION.destination(INTEGRATION.config()).hosts) == {
        "graph.microsoft.com",
        "login.microsoftonline.com",
    }


def test_config_starts_empty_and_validates_the_tenant_id() -> None:
    assert INTEGRATION.config().model_dump() == {"tenant_id": None, "tenant_name": None}
    with pytest.raises(ValidationError, match="tenant_id"):
        INTEGRATION.config.model_validate({"tenant_id": "contoso.onmicrosoft.com"})
