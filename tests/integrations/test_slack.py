from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from pydantic import BaseModel, ValidationError

from fireline.core.errors import CredentialError, PermanentError, TransientError
from fireline.integrations.base import Action, ToolContext
from fireline.integrations.slack import INTEGRATION
from fireline.integrations.slack.oauth import PROVIDER, connect_details, parse_tokens
from fireline.integrations.slack.schema import (
    AddBookmarkInput,
    ArchiveChannelInput,
    CreateIncidentChannelInput,
    ListChannelsInput,
    PostMessageInput,
    SendDirectMessageInput,
    SetChannelTopicInput,
)
from tests.integrations.fakes import _oauth
from tests.integrations.fakes.slack import BOT_SCOPES, FakeChannel, FakeSlack
from tests.integrations.support import FakeServer, raw_client, serve, tool_context

CLIENT_ID, CLIENT_SECRET = "1234.5678", "slack-client-secret"
REDIRECT = "https://fireline.example.com/connections/oauth/callback"
CHANNELS = [
    FakeChannel("C0INCIDENT", "incidents", is_member=True),
    FakeChannel("C0GENERAL", "general"),
    FakeChannel("G0SECRET", "sre-private", is_private=True, is_member=True),
    FakeChannel("G0HIDDEN", "not-invited", is_private=True),
    FakeChannel("C0OLD", "old-war-room", is_archived=True, is_member=True),
    *(FakeChannel(f"C1{i:04d}", f"team-{i}") for i in range(250)),
]


@pytest.fixture(scope="module")
def slack() -> FakeSlack:
    return FakeSlack(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=(REDIRECT,),
        channels=CHANNELS,
    )


@pytest.fixture(scope="module")
def server(
    slack: FakeSlack, ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FakeServer]:
    with serve(slack.app, ca, tmp_path_factory.mktemp("slack"), "slack.com") as running:
        yield running


def _ctx(server: FakeServer, ca: trustme.CA, token: str) -> ToolContext:
    return tool_context(
        INTEGRATION,
        config={"team_id": "T0FIRE", "team_name": "Fireline Ops", "bot_user_id": "U0BOT"},
        secrets={"access_token": token},
        routes=server.routes(443),
        ca=ca,
        idempotency_key="PRUN:step-1",
    )


# -- parse_tokens -----------------------------------------------------------------------------
def test_parse_tokens_install_with_rotation() -> None:
    tokens = parse_tokens(
        {
            "ok": True,
            "access_token": "xoxe.xoxb-1-abc",
            "token_type": "bot",
            "scope": "chat:write,channels:read",
            "bot_user_id": "U0KRQLJ9H",
            "app_id": "A0KRD7HC3",
            "team": {"name": "Slack Softball Team", "id": "T9TK3CUKW"},
            "enterprise": None,
            "refresh_token": "xoxe-1-def",
            "expires_in": 43200,
        }
    )
    assert (tokens.access_token, tokens.refresh_token, tokens.expires_in) == (
        "xoxe.xoxb-1-abc",
        "xoxe-1-def",
        43200,
    )
    assert dict(tokens.details) == {
        "team_id": "T9TK3CUKW",
        "team_name": "Slack Softball Team",
        "bot_user_id": "U0KRQLJ9H",
    }
    # The details are exactly what the connection's config accepts.
    INTEGRATION.config.model_validate(dict(tokens.details))


def test_parse_tokens_without_rotation_never_expires() -> None:
    tokens = parse_tokens({"ok": True, "access_token": "xoxb-1", "team": {"id": "T1"}})
    assert (tokens.refresh_token, tokens.expires_in) == (None, None)
    assert dict(tokens.details) == {"team_id": "T1"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"ok": False, "error": "invalid_code"}, "invalid_code"),
        ({"ok": False, "error": "invalid_refresh_token"}, "invalid_refresh_token"),
        (
            {"error": "invalid_grant", "error_description": "Token has been expired"},
            "invalid_grant",
        ),
        ({"ok": True}, "access_token"),
    ],
)
def test_parse_tokens_refusals_are_credential_errors(body: dict[str, object], code: str) -> None:
    with pytest.raises(CredentialError, match=code):
        parse_tokens(body)


def test_provider_descriptor() -> None:
    assert PROVIDER.authorize_url == "https://slack.com/oauth/v2/authorize"
    assert PROVIDER.token_url == "https://slack.com/api/oauth.v2.access"
    assert PROVIDER.scope_separator == "," and "chat:write" in PROVIDER.scopes
    assert INTEGRATION.oauth is PROVIDER and INTEGRATION.auth == "oauth"


# -- the connect and refresh flow against the fake --------------------------------------------
async def test_install_flow_exchange_and_rotating_refresh(
    slack: FakeSlack, server: FakeServer, ca: trustme.CA
) -> None:
    client = raw_client(server.routes(443), ca)
    answer = await _oauth.authorize(
        client, PROVIDER, client_id=CLIENT_ID, redirect_uri=REDIRECT, state="st-1"
    )
    callback = _oauth.callback_params(answer)
    assert callback["state"] == "st-1"
    assert slack.oauth.authorize_requests[-1]["scope"] == ",".join(BOT_SCOPES)
    # Client authentication by HTTP Basic (Slack's preferred form).
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    response = await client.post(
        PROVIDER.token_url,
        data={"code": callback["code"], "redirect_uri": REDIRECT},
        headers={"Authorization": f"Basic {basic}"},
    )
    tokens = parse_tokens(response.json())
    assert tokens.access_token.startswith("xoxe.xoxb-") and tokens.expires_in == 43200
    assert tokens.details["team_id"] == "T0FIRE"
    assert await INTEGRATION.verify(_ctx(server, ca, tokens.access_token)) == (
        "Connected to Slack workspace Fireline Ops as fireline"
    )
    # Refresh (client credentials in the form this time); the refresh token rotates.
    assert tokens.refresh_token is not None
    refresh = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
    }
    refreshed = parse_tokens((await _oauth.token_request(client, PROVIDER, refresh)).body)
    assert refreshed.refresh_token not in (None, tokens.refresh_token)
    assert await INTEGRATION.verify(_ctx(server, ca, refreshed.access_token))
    with pytest.raises(CredentialError, match="invalid_refresh_token"):
        parse_tokens((await _oauth.token_request(client, PROVIDER, refresh)).body)

    # A code is single-use.
    again = await _oauth.token_request(
        client,
        PROVIDER,
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": callback["code"]},
    )
    with pytest.raises(CredentialError, match="invalid_code"):
        parse_tokens(again.body)


async def test_token_request_with_wrong_secret_is_refused(
    server: FakeServer, ca: trustme.CA
) -> None:
    client = raw_client(server.routes(443), ca)
    callback = _oauth.callback_params(
        await _oauth.authorize(
            client, PROVIDER, client_id=CLIENT_ID, redirect_uri=REDIRECT, state="s"
        )
    )
    answer = await _oauth.token_request(
        client,
        PROVIDER,
        {"client_id": CLIENT_ID, "client_secret": "wrong", "code": callback["code"]},
    )
    with pytest.raises(CredentialError, match="bad_client_secret"):
        parse_tokens(answer.body)


async def test_authorize_refuses_unregistered_redirect_and_reports_denial(
    slack: FakeSlack, server: FakeServer, ca: trustme.CA
) -> None:
    client = raw_client(server.routes(443), ca)
    bad = await _oauth.authorize(
        client, PROVIDER, client_id=CLIENT_ID, redirect_uri="https://evil.example/cb", state="s"
    )
    assert bad.status_code == 400 and "location" not in bad.headers
    slack.oauth.denied = True
    try:
        denied = await _oauth.authorize(
            client, PROVIDER, client_id=CLIENT_ID, redirect_uri=REDIRECT, state="s2"
        )
    finally:
        slack.oauth.denied = False
    assert _oauth.callback_params(denied) == {"error": "access_denied", "state": "s2"}


# -- verify -----------------------------------------------------------------------------------
async def test_verify_healthy(slack: FakeSlack, server: FakeServer, ca: trustme.CA) -> None:
    message = await INTEGRATION.verify(_ctx(server, ca, slack.bot_token()))
    assert message == "Connected to Slack workspace Fireline Ops as fireline"


async def test_verify_invalid_token_is_a_credential_error(
    server: FakeServer, ca: trustme.CA
) -> None:
    with pytest.raises(CredentialError, match="invalid_auth") as caught:
        await INTEGRATION.verify(_ctx(server, ca, "xoxb-not-a-token"))
    assert "xoxb-not-a-token" not in str(caught.value)  # SEC-1


async def test_verify_revoked_and_expired_tokens_are_credential_errors(
    ca: trustme.CA, tmp_path: Path
) -> None:
    other = FakeSlack(client_id="x", client_secret="y", redirect_uris=(REDIRECT,))
    with serve(other.app, ca, tmp_path, "slack.com") as fake:
        expiring = other.bot_token()
        other.oauth.advance(43_201)
        with pytest.raises(CredentialError, match="token_expired"):
            await INTEGRATION.verify(_ctx(fake, ca, expiring))
        token = other.bot_token()
        other.revoke()
        with pytest.raises(CredentialError, match="token_revoked"):
            await INTEGRATION.verify(_ctx(fake, ca, token))


async def test_verify_unreachable_is_transient(ca: trustme.CA) -> None:
    ctx = tool_context(INTEGRATION, config={}, secrets={"access_token": "xoxb-1"}, routes={}, ca=ca)
    with pytest.raises(TransientError):
        await INTEGRATION.verify(ctx)


# -- actions ----------------------------------------------------------------------------------
async def test_post_message_and_thread_reply(
    slack: FakeSlack, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("post_message")
    assert action is not None and action.idempotent is False
    ctx = _ctx(server, ca, slack.bot_token())
    first = await action.run(ctx, PostMessageInput(channel="#incidents", text="P1: checkout down"))
    assert first.channel == "C0INCIDENT"
    reply = await action.run(
        ctx, PostMessageInput(channel="C0INCIDENT", text="mitigated", thread_ts=first.ts)
    )
    posted = slack.channel("C0INCIDENT")
    assert posted is not None
    assert [(m["text"], m["ts"], m.get("thread_ts")) for m in posted.messages[-2:]] == [
        ("P1: checkout down", first.ts, None),
        ("mitigated", reply.ts, first.ts),
    ]


async def test_post_message_errors(slack: FakeSlack, server: FakeServer, ca: trustme.CA) -> None:
    action = INTEGRATION.action("post_message")
    assert action is not None
    with pytest.raises(PermanentError, match="not_in_channel"):
        await action.run(
            _ctx(server, ca, slack.bot_token()), PostMessageInput(channel="general", text="hi")
        )
    with pytest.raises(PermanentError, match="channel_not_found"):
        await action.run(
            _ctx(server, ca, slack.bot_token()), PostMessageInput(channel="C0NOPE", text="hi")
        )
    read_only = slack.bot_token(scopes=("channels:read",))
    with pytest.raises(CredentialError, match=r"missing_scope \(needs chat:write"):
        await action.run(
            _ctx(server, ca, read_only), PostMessageInput(channel="C0INCIDENT", text="x")
        )


def test_list_channels_only_offers_types_the_scopes_can_read() -> None:
    with pytest.raises(ValidationError):
        ListChannelsInput.model_validate({"types": ["im"]})


def test_post_message_input_is_validated() -> None:
    with pytest.raises(ValidationError):
        PostMessageInput(channel="C1", text="x", thread_ts="not-a-ts")
    with pytest.raises(ValidationError):
        PostMessageInput(channel="C1", text="")
    with pytest.raises(ValidationError):
        PostMessageInput.model_validate({"channel": "C1", "text": "x", "as_user": True})


async def test_list_channels_follows_cursors(
    slack: FakeSlack, server: FakeServer, ca: trustme.CA
) -> None:
    action = INTEGRATION.action("list_channels")
    assert action is not None and action.idempotent is True
    ctx = _ctx(server, ca, slack.bot_token())
    everything = await action.run(ctx, ListChannelsInput(limit=5000))
    # 252 public, non-archived channels: two pages of Slack's recommended 200.
    assert len(everything.channels) == 252
    assert len({c.id for c in everything.channels}) == 252
    capped = await action.run(ctx, ListChannelsInput(limit=230))
    assert [c.id for c in capped.channels] == [c.id for c in everything.channels[:230]]
    private = await action.run(
        ctx,
        ListChannelsInput(types=("private_channel",), exclude_archived=False),
    )
    assert [(c.id, c.is_private) for c in private.channels] == [("G0SECRET", True)]
    with_archived = await action.run(ctx, ListChannelsInput(exclude_archived=False, limit=5000))
    assert any(c.id == "C0OLD" and c.is_archived for c in with_archived.channels)


# -- channel management (a fresh workspace per test: these change it) ------------------------
@pytest.fixture
def workspace(ca: trustme.CA, tmp_path: Path) -> Iterator[tuple[FakeSlack, FakeServer]]:
    fake = FakeSlack(
        client_id="x",
        client_secret="y",
        redirect_uris=(REDIRECT,),
        channels=[
            FakeChannel("C0GENERAL", "general", is_general=True, is_member=True),
            FakeChannel("C0OLD", "inc-7-old-outage", is_archived=True, is_member=True),
            FakeChannel("G0HIDDEN", "inc-8-secret", is_private=True),
            FakeChannel("C0LOBBY", "lobby"),
        ],
    )
    with serve(fake.app, ca, tmp_path, "slack.com") as server:
        yield fake, server


def _run(name: str) -> Action:
    action = INTEGRATION.action(name)
    assert action is not None
    return action


async def test_create_incident_channel_derives_the_name_and_a_retry_returns_it(
    workspace: tuple[FakeSlack, FakeServer], ca: trustme.CA
) -> None:
    fake, server = workspace
    action = _run("create_incident_channel")
    assert action.idempotent is False
    ctx = _ctx(server, ca, fake.bot_token())
    data = CreateIncidentChannelInput(name="INC-42: Checkout is DOWN (eu-west)")
    first = await action.run(ctx, data)
    assert (first.name, first.is_private, first.created) == (
        "inc-42-checkout-is-down-eu-west",
        False,
        True,
    )
    made = fake.channel(first.id)
    assert made is not None and made.name == first.name and made.is_member
    # WF-5: the retried step asks for the same name; Slack says name_taken; same channel.
    again = await action.run(ctx, data)
    assert (again.id, again.name, again.created) == (first.id, first.name, False)
    assert [c.id for c in fake.channels if c.name == first.name] == [first.id]


async def test_create_private_incident_channel_and_find_it_beyond_the_first_page(
    workspace: tuple[FakeSlack, FakeServer], ca: trustme.CA
) -> None:
    fake, server = workspace
    action = _run("create_incident_channel")
    ctx = _ctx(server, ca, fake.bot_token())
    # More channels than one conversations.list page (1000): the look-up follows the cursor.
    fake.channels.extend(FakeChannel(f"C2{i:04d}", f"team-{i}") for i in range(1200))
    data = CreateIncidentChannelInput(name="Sec Incident 9", is_private=True)
    first = await action.run(ctx, data)
    assert first.is_private and first.created
    again = await action.run(ctx, data)
    assert (again.id, again.is_private, again.created) == (first.id, True, False)
    assert fake.calls.count("conversations.list") == 2


async def test_create_incident_channel_refuses_archived_or_unseen_names(
    workspace: tuple[FakeSlack, FakeServer], ca: trustme.CA
) -> None:
    fake, server = workspace
    action = _run("create_incident_channel")
    ctx = _ctx(server, ca, fake.bot_token())
    with pytest.raises(PermanentError, match="inc-7-old-outage exists but is archived"):
        await action.run(ctx, CreateIncidentChannelInput(name="INC 7 old outage"))
    with pytest.raises(PermanentError, match="taken by a channel this bot cannot see"):
        await action.run(ctx, CreateIncidentChannelInput(name="inc-8-secret"))


async def test_create_incident_channel_errors(
    workspace: tuple[FakeSlack, FakeServer], ca: trustme.CA
) -> None:
    fake, server = workspace
    action = _run("create_incident_channel")
    data = CreateIncidentChannelInput(name="inc-9")
    old_scopes = fake.bot_token(scopes=("chat:write", "channels:read", "groups:read"))
    with pytest.raises(CredentialError, match=r"missing_scope \(needs channels:manage"):
        await action.run(_ctx(server, ca, old_scopes), data)
    fake.faults["conversations.create"] = "internal_error"
    with pytest.raises(TransientError, match="internal_error") as caught:
        await action.run(_ctx(server, ca, fake.bot_token()), data)
    # Some of it may have happened, but a retry finds the channel by name: retried (WF-5).
    assert caught.value.outcome_unknown is False
    fake.faults["conversations.create"] = "restricted_action"
    with pytest.raises(PermanentError, match="restricted_action"):
        await action.run(_ctx(server, ca, fake.bot_token()), data)


async def test_archive_channel_counts_already_archived_as_done(
    workspace: tuple[FakeSlack, FakeServer], ca: trustme.CA
) -> None:
    fake, server = workspace
    ctx = _ctx(server, ca, fake.bot_token())
    channel = await _run("create_incident_channel").run(
        ctx, CreateIncidentChannelInput(name="inc-10")
    )
    action = _run("archive_channel")
    assert action.idempotent is False
    done = await action.run(ctx, ArchiveChannelInput(channel=channel.id))
    assert (done.channel, done.already_archived) == (channel.id, False)
    made = fake.channel(channel.id)
    assert made is not None and made.is_archived
    again = await action.run(ctx, ArchiveChannelInput(channel=channel.id))
    assert again.already_archived is True
    for target, code in [
        ("C0GENERAL", "cant_archive_general"),
        ("C0LOBBY", "not_in_channel"),
        ("G0HIDDEN", "channel_not_found"),
    ]:
        with pytest.raises(PermanentError, match=code):
            await action.run(ctx, ArchiveChannelInput(channel=target))


async def test_set_channel_topic(workspace: tuple[FakeSlack, FakeServer], ca: trustme.CA) -> None:
    fake, server = workspace
    ctx = _ctx(server, ca, fake.bot_token())
    channel = await _run("create_incident_channel").run(
        ctx, CreateIncidentChannelInput(name="inc-11")
    )
    action = _run("set_channel_topic")
    topic = "P1 checkout down | IC: Ada | https://status.example.com"
    result = await action.run(ctx, SetChannelTopicInput(channel=channel.id, topic=topic))
    assert (result.channel, result.topic) == (channel.id, topic)
    made = fake.channel(channel.id)
    assert made is not None and made.topic == topic
    for target, code in [("C0OLD", "is_archived"), ("C0LOBBY", "not_in_channel")]:
        with pytest.raises(PermanentError, match=code):
            await action.run(ctx, SetChannelTopicInput(channel=target, topic="x"))


async def test_send_direct_message_opens_the_dm_once(
    workspace: tuple[FakeSlack, FakeServer], ca: trustme.CA
) -> None:
    fake, server = workspace
    action = _run("send_direct_message")
    assert action.idempotent is False
    ctx = _ctx(server, ca, fake.bot_token())
    first = await action.run(ctx, SendDirectMessageInput(user="U0ADA", text="You are IC"))
    second = await action.run(ctx, SendDirectMessageInput(user="U0ADA", text="Bridge is up"))
    dm = fake.dm("U0ADA")
    assert dm is not None and first.channel == second.channel == dm.id
    assert dm.id.startswith("D")
    assert [(m["text"], m["ts"]) for m in dm.messages] == [
        ("You are IC", first.ts),
        ("Bridge is up", second.ts),
    ]
    with pytest.raises(PermanentError, match="user_not_found"):
        await action.run(ctx, SendDirectMessageInput(user="U0NOBODY", text="hi"))
    fake.faults["chat.postMessage"] = "fatal_error"
    with pytest.raises(TransientError, match="fatal_error") as caught:
        await action.run(ctx, SendDirectMessageInput(user="U0ADA", text="maybe sent"))
    # Slack: the message may have been posted — not posted again blindly (WF-6).
    assert caught.value.outcome_unknown is True
    no_im = fake.bot_token(scopes=("chat:write",))
    with pytest.raises(CredentialError, match=r"needs im:write"):
        await action.run(_ctx(server, ca, no_im), SendDirectMessageInput(user="U0ADA", text="x"))


async def test_add_bookmark_returns_the_existing_one_on_retry(
    workspace: tuple[FakeSlack, FakeServer], ca: trustme.CA
) -> None:
    fake, server = workspace
    ctx = _ctx(server, ca, fake.bot_token())
    channel = await _run("create_incident_channel").run(
        ctx, CreateIncidentChannelInput(name="inc-12")
    )
    action = _run("add_bookmark")
    assert action.idempotent is False
    data = AddBookmarkInput(
        channel=channel.id, title="Runbook", link="https://wiki.example.com/runbooks/checkout"
    )
    first = await action.run(ctx, data)
    assert (first.channel, first.title, first.link, first.created) == (
        channel.id,
        "Runbook",
        "https://wiki.example.com/runbooks/checkout",
        True,
    )
    # WF-5: bookmarks.list first; the same title and link are not bookmarked twice.
    again = await action.run(ctx, data)
    assert (again.id, again.created) == (first.id, False)
    other = await action.run(ctx, data.model_copy(update={"title": "Dashboard"}))
    assert other.created and other.id != first.id
    made = fake.channel(channel.id)
    assert made is not None
    assert [(b["title"], b["type"]) for b in made.bookmarks] == [
        ("Runbook", "link"),
        ("Dashboard", "link"),
    ]
    made.bookmarks.extend(dict(made.bookmarks[0], id=f"Bk{i}", title=f"t{i}") for i in range(98))
    with pytest.raises(PermanentError, match="too_many_bookmarks"):
        await action.run(ctx, data.model_copy(update={"title": "One too many"}))
    with pytest.raises(PermanentError, match="channel_not_found"):
        await action.run(ctx, data.model_copy(update={"channel": "G0HIDDEN"}))
    read_only = fake.bot_token(scopes=("bookmarks:read",))
    with pytest.raises(CredentialError, match="needs bookmarks:write"):
        await action.run(_ctx(server, ca, read_only), data.model_copy(update={"title": "New"}))


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (CreateIncidentChannelInput, {"name": "---"}),
        (CreateIncidentChannelInput, {"name": ""}),
        (CreateIncidentChannelInput, {"name": "inc-1", "topic": "x"}),
        (ArchiveChannelInput, {"channel": "#general"}),
        (ArchiveChannelInput, {"channel": "D0123ABCD"}),
        (SetChannelTopicInput, {"channel": "C0GENERAL", "topic": "x" * 251}),
        (SendDirectMessageInput, {"user": "C0GENERAL", "text": "hi"}),
        (SendDirectMessageInput, {"user": "U0ADA", "text": ""}),
        (AddBookmarkInput, {"channel": "C0GENERAL", "title": "x", "link": "ftp://x.example"}),
        (AddBookmarkInput, {"channel": "C0GENERAL", "title": "", "link": "https://x.example"}),
    ],
)
def test_channel_management_inputs_are_validated(
    model: type[BaseModel], fields: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(fields)


def test_channel_names_follow_slacks_rules() -> None:
    def name(raw: str) -> str:
        return CreateIncidentChannelInput(name=raw).name

    assert name("Café — Zürich DB") == "cafe-zurich-db"
    assert name("#inc_7 / checkout!") == "inc_7-checkout"
    long = name("inc-1-" + "very long title " * 10)
    assert len(long) <= 80 and not long.endswith("-")


# -- declaration ------------------------------------------------------------------------------
def test_net6_destination_is_slack_com_only() -> None:
    assert INTEGRATION.destination(INTEGRATION.config()).hosts == ("slack.com",)


def test_config_starts_empty_and_rejects_bad_ids() -> None:
    assert INTEGRATION.config().model_dump() == {
        "team_id": None,
        "team_name": None,
        "bot_user_id": None,
    }
    with pytest.raises(ValidationError, match="team_id"):
        INTEGRATION.config.model_validate({"team_id": "../T1"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        INTEGRATION.config.model_validate({"webhook_url": "https://example.com"})


async def test_connect_details_read_back_with_auth_test(
    slack: FakeSlack, server: FakeServer, ca: trustme.CA
) -> None:
    details = await connect_details(_ctx(server, ca, slack.bot_token()))
    assert details == {"team_id": "T0FIRE", "team_name": "Fireline Ops", "bot_user_id": "U0BOT"}
