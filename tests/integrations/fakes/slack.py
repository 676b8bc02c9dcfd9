"""A small Slack: OAuth v2 install flow and the Web API methods Fireline calls.

    slack = FakeSlack(
        client_id="123.456", client_secret="s3cret",
        redirect_uris=("https://fireline.example.com/connections/oauth/callback",),
        team_id="T0FIRE", team_name="Fireline Ops", rotation=True,
        channels=[FakeChannel("C01", "incidents", is_member=True), ...],
    )
    with serve(slack.app, ca, tmp, "slack.com") as server: ...

- `GET /oauth/v2/authorize` (client_id, scope comma-separated, redirect_uri, state, optional
  PKCE): unknown client / unregistered redirect_uri → 400 error page; `slack.oauth.denied =
  True` → redirect with `error=access_denied`; otherwise the installing user approves and is
  redirected with `code` + `state`.
- `POST /api/oauth.v2.access` (form, client credentials in the body or HTTP Basic): exchanges a
  code (`grant_type` absent or `authorization_code`) or, with `rotation=True`, a refresh token
  (`grant_type=refresh_token`; the old refresh token dies). Answers are Slack-shaped: `ok`,
  `access_token` (`xoxb-…`, `xoxe.xoxb-…` with rotation), `expires_in` + `refresh_token`
  (`xoxe-1-…`) with rotation, `team`, `bot_user_id`; refusals are HTTP 200 `ok: false` with
  `invalid_client_id`, `bad_client_secret`, `invalid_code`, `bad_redirect_uri`,
  `invalid_refresh_token`, `invalid_grant_type`.
- Web API (`Authorization: Bearer`): `auth.test`, `chat.postMessage` (JSON), and
  `conversations.list` (query/form; cursor pagination). Token problems are HTTP 200 with
  `not_authed`, `invalid_auth`, `token_expired`, `token_revoked`; a method without its scope
  answers `missing_scope` with `needed` and `provided`.
- Channel management (JSON or form): `conversations.create` (channels:manage, groups:write
  when private; the invalid_name_* codes, `name_taken` for any existing channel, archived or
  not), `conversations.archive` (`already_archived`, `cant_archive_general`,
  `not_in_channel`), `conversations.setTopic` (`too_long` past 250 characters, `is_archived`,
  `not_in_channel`), `conversations.open` (im:write; 1:1 DMs only, `user_not_found`,
  `users_list_not_supplied`; the same user gets the same DM), `bookmarks.list`
  (bookmarks:read) and `bookmarks.add` (bookmarks:write; `invalid_bookmark_type`,
  `invalid_link`, `too_many_bookmarks` at 100). Channels a bot cannot see (private, not a
  member) answer `channel_not_found`.
- `slack.bot_token(scopes=...)` issues a token directly; `slack.oauth.advance(s)` moves time;
  `slack.revoke()` uninstalls the app (every token answers `token_revoked`);
  `slack.faults["conversations.create"] = "internal_error"` makes that method's next call
  (with a good token) answer that error without doing anything; `slack.calls` lists the
  Web API methods called.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.integrations.fakes._oauth import (
    AuthorizationServer,
    Grant,
    OAuthFault,
    bearer_token,
    client_credentials,
)

_TOKEN_ERRORS = {
    "invalid_client": "invalid_client_id",
    "bad_secret": "bad_client_secret",
    "invalid_code": "invalid_code",
    "pkce": "invalid_code",
    "bad_redirect_uri": "bad_redirect_uri",
    "invalid_refresh": "invalid_refresh_token",
    "unsupported_grant": "invalid_grant_type",
    "invalid_request": "invalid_arguments",
}
BOT_SCOPES = (
    "chat:write",
    "channels:read",
    "groups:read",
    "channels:manage",
    "groups:write",
    "im:write",
    "bookmarks:read",
    "bookmarks:write",
)
_BOOKMARK_LIMIT = 100  # Slack: "Conversations are limited to 100 bookmarks."


@dataclass
class FakeChannel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    is_member: bool = False
    is_general: bool = False
    is_im: bool = False  # a DM: `name` is empty, `user` is the other side
    user: str | None = None
    topic: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)


class FakeSlack:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: tuple[str, ...],
        team_id: str = "T0FIRE",
        team_name: str = "Fireline Ops",
        bot_user_id: str = "U0BOT",
        rotation: bool = True,
        channels: list[FakeChannel] | None = None,
        users: tuple[str, ...] = ("U0ADA", "U0GRACE"),
    ) -> None:
        self.team_id, self.team_name, self.bot_user_id = team_id, team_name, bot_user_id
        self.rotation = rotation
        self.channels = channels or []
        self.users = users
        self.faults: dict[str, str] = {}  # method -> error code for its next call
        self.calls: list[str] = []  # the Web API methods called, in order
        self._ids = 0
        # Slack: bot tokens never expire unless token rotation is on (then 12 h + refresh).
        self.oauth = AuthorizationServer(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=redirect_uris,
            access_prefix="xoxe.xoxb-1-" if rotation else "xoxb-",
            refresh_prefix="xoxe-1-",
            access_ttl=43_200 if rotation else None,
            refresh=rotation,
            rotate=True,
            pkce=True,
        )
        self._grants: list[Grant] = []
        self._clock = 1_700_000_000
        self.app = Starlette(
            routes=[
                Route("/oauth/v2/authorize", self._authorize, methods=["GET"]),
                Route("/api/oauth.v2.access", self._token, methods=["POST"]),
                Route("/api/auth.test", self._auth_test, methods=["GET", "POST"]),
                Route("/api/chat.postMessage", self._post_message, methods=["POST"]),
                Route("/api/conversations.list", self._list, methods=["GET", "POST"]),
                Route("/api/conversations.create", self._create, methods=["POST"]),
                Route("/api/conversations.archive", self._archive, methods=["POST"]),
                Route("/api/conversations.setTopic", self._set_topic, methods=["POST"]),
                Route("/api/conversations.open", self._open, methods=["POST"]),
                Route("/api/bookmarks.list", self._bookmarks, methods=["GET", "POST"]),
                Route("/api/bookmarks.add", self._add_bookmark, methods=["POST"]),
            ]
        )

    # -- test helpers ----------------------------------------------------------------------
    def grant(self, scopes: tuple[str, ...] = BOT_SCOPES) -> Grant:
        grant = Grant(scopes=scopes)
        self._grants.append(grant)
        return grant

    def bot_token(self, scopes: tuple[str, ...] = BOT_SCOPES) -> str:
        return self.oauth.issue(self.grant(scopes)).access_token

    def revoke(self) -> None:
        for grant in self._grants:
            grant.revoked = True

    def channel(self, key: str) -> FakeChannel | None:
        name = key.lstrip("#")
        return next(
            (c for c in self.channels if c.id == key or (not c.is_im and c.name == name)), None
        )

    def dm(self, user: str) -> FakeChannel | None:
        return next((c for c in self.channels if c.is_im and c.user == user), None)

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        self._clock += 1
        return f"{prefix}0NEW{self._ids:04d}"

    # -- OAuth -----------------------------------------------------------------------------
    async def _authorize(self, request: Request) -> Response:
        query = dict(request.query_params)
        scopes = tuple(filter(None, query.get("scope", "").split(",")))
        if not scopes:
            return HTMLResponse("<h1>Invalid permissions requested</h1>", status_code=400)
        try:
            target = self.oauth.authorize(query, self.grant(scopes))
        except OAuthFault as fault:
            return HTMLResponse(f"<h1>Oops, something went wrong</h1>{fault}", status_code=400)
        return RedirectResponse(target, status_code=302)

    async def _token(self, request: Request) -> JSONResponse:
        form = dict(await request.form())
        self.oauth.token_requests.append(form)
        try:
            self.oauth.check_client(*client_credentials(request, form))
            grant_type = form.get("grant_type", "authorization_code")
            if grant_type == "authorization_code":
                issued = self.oauth.exchange_code(
                    code=form.get("code"),
                    redirect_uri=form.get("redirect_uri"),
                    code_verifier=form.get("code_verifier"),
                )
            elif grant_type == "refresh_token" and self.rotation:
                issued = self.oauth.refresh_tokens(refresh_token=form.get("refresh_token"))
            else:
                raise OAuthFault("unsupported_grant", grant_type)
        except OAuthFault as fault:
            return JSONResponse({"ok": False, "error": _TOKEN_ERRORS[fault.kind]})
        body: dict[str, Any] = {
            "ok": True,
            "app_id": "A0FIRELINE",
            "authed_user": {"id": "U0INSTALLER"},
            "scope": ",".join(issued.grant.scopes),
            "token_type": "bot",
            "access_token": issued.access_token,
            "bot_user_id": self.bot_user_id,
            "team": {"id": self.team_id, "name": self.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if issued.refresh_token is not None:
            body |= {"refresh_token": issued.refresh_token, "expires_in": issued.expires_in}
        return JSONResponse(body)

    # -- Web API ---------------------------------------------------------------------------
    def _authorized(self, request: Request, scope: str | None) -> JSONResponse | None:
        method = request.url.path.rpartition("/")[2]
        self.calls.append(method)
        reason, grant = self.oauth.check(bearer_token(request))
        if grant is None:
            error = {
                "missing": "not_authed",
                "unknown": "invalid_auth",
                "expired": "token_expired",
                "revoked": "token_revoked",
            }[reason]
            return JSONResponse({"ok": False, "error": error})
        if scope is not None and scope not in grant.scopes:
            return JSONResponse(
                {
                    "ok": False,
                    "error": "missing_scope",
                    "needed": scope,
                    "provided": ",".join(grant.scopes),
                }
            )
        fault = self.faults.pop(method, None)
        if fault is not None:
            return JSONResponse({"ok": False, "error": fault})
        return None

    @staticmethod
    async def _args(request: Request) -> dict[str, Any]:
        """Write methods take a JSON body or form/query arguments."""
        if request.headers.get("content-type", "").startswith("application/json"):
            body = await request.json()
            return body if isinstance(body, dict) else {}
        return dict(request.query_params) | dict(await request.form())

    def _visible(self, key: Any) -> FakeChannel | None:
        channel = self.channel(key) if isinstance(key, str) and key else None
        if channel is None or (channel.is_private and not channel.is_member):
            return None
        return channel

    @staticmethod
    def _manage_scope(channel: FakeChannel) -> str:
        return "groups:write" if channel.is_private else "channels:manage"

    def _channel_json(self, c: FakeChannel) -> dict[str, Any]:
        return {
            "id": c.id,
            "name": c.name,
            "is_channel": not c.is_private,
            "is_group": c.is_private,
            "is_im": False,
            "is_private": c.is_private,
            "is_archived": c.is_archived,
            "is_general": c.is_general,
            "is_member": c.is_member,
            "num_members": 3,
            "topic": {
                "value": c.topic,
                "creator": self.bot_user_id if c.topic else "",
                "last_set": self._clock if c.topic else 0,
            },
        }

    async def _auth_test(self, request: Request) -> JSONResponse:
        denied = self._authorized(request, None)
        if denied is not None:
            return denied
        return JSONResponse(
            {
                "ok": True,
                "url": "https://fireline-ops.slack.com/",
                "team": self.team_name,
                "user": "fireline",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": "B0FIRELINE",
                "is_enterprise_install": False,
            }
        )

    async def _post_message(self, request: Request) -> JSONResponse:
        denied = self._authorized(request, "chat:write")
        if denied is not None:
            return denied
        if not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"ok": False, "error": "invalid_form_data"})
        body = await request.json()
        if not body.get("channel"):
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        if not body.get("text"):
            return JSONResponse({"ok": False, "error": "no_text"})
        channel = self.channel(body["channel"])
        if channel is None:
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        if channel.is_archived:
            return JSONResponse({"ok": False, "error": "is_archived"})
        if not channel.is_member:
            return JSONResponse({"ok": False, "error": "not_in_channel"})
        self._clock += 1
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": "B0FIRELINE",
            "text": body["text"],
            "ts": f"{self._clock}.000100",
        }
        if body.get("thread_ts"):
            message["thread_ts"] = body["thread_ts"]
        channel.messages.append(message)
        return JSONResponse(
            {"ok": True, "channel": channel.id, "ts": message["ts"], "message": message}
        )

    async def _list(self, request: Request) -> JSONResponse:
        args = dict(request.query_params) | dict(await request.form())
        types = args.get("types", "public_channel").split(",")
        needed = "groups:read" if "private_channel" in types else "channels:read"
        denied = self._authorized(request, needed)
        if denied is not None:
            return denied
        exclude_archived = args.get("exclude_archived") in ("true", "1")
        limit = min(int(args.get("limit", 100)), 1000)
        visible = [
            c
            for c in self.channels
            if not c.is_im
            and ("private_channel" if c.is_private else "public_channel") in types
            and (not c.is_private or c.is_member)
            and not (exclude_archived and c.is_archived)
        ]
        start = 0
        if args.get("cursor"):
            try:
                start = int(base64.b64decode(args["cursor"]).decode().split(":")[1])
            except (ValueError, IndexError):
                return JSONResponse({"ok": False, "error": "invalid_cursor"})
        page = visible[start : start + limit]
        after = start + limit
        next_cursor = (
            base64.b64encode(f"offset:{after}".encode()).decode() if after < len(visible) else ""
        )
        return JSONResponse(
            {
                "ok": True,
                "channels": [self._channel_json(c) for c in page],
                "response_metadata": {"next_cursor": next_cursor},
            }
        )

    async def _create(self, request: Request) -> JSONResponse:
        args = await self._args(request)
        private = args.get("is_private") in (True, "true", "1")
        denied = self._authorized(request, "groups:write" if private else "channels:manage")
        if denied is not None:
            return denied
        name = args.get("name")
        if not isinstance(name, str) or not name:
            return JSONResponse({"ok": False, "error": "invalid_name_required"})
        if len(name) > 80:
            return JSONResponse({"ok": False, "error": "invalid_name_maxlength"})
        if not re.fullmatch(r"[a-z0-9_-]+", name):
            return JSONResponse({"ok": False, "error": "invalid_name_specials"})
        if not re.search(r"[a-z0-9]", name):
            return JSONResponse({"ok": False, "error": "invalid_name_punctuation"})
        # Archived channels keep their names.
        if any(not c.is_im and c.name == name for c in self.channels):
            return JSONResponse({"ok": False, "error": "name_taken"})
        channel = FakeChannel(self._next_id("C"), name, is_private=private, is_member=True)
        self.channels.append(channel)
        body = self._channel_json(channel) | {"created": self._clock, "creator": self.bot_user_id}
        return JSONResponse({"ok": True, "channel": body})

    async def _managed(self, request: Request
                       ) -> tuple[dict[str, Any], FakeChannel] | JSONResponse:
        """A channel-managing call's arguments and channel, or Slack's refusal: the scope for
        the channel's kind, then `channel_not_found`."""
        args = await self._args(request)
        channel = self._visible(args.get("channel"))
        denied = self._authorized(
            request, self._manage_scope(channel) if channel else "channels:manage"
        )
        if denied is not None:
            return denied
        if channel is None:
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        return args, channel

    async def _archive(self, request: Request) -> JSONResponse:
        found = await self._managed(request)
        if isinstance(found, JSONResponse):
            return found
        _, channel = found
        if channel.is_im:
            return JSONResponse({"ok": False, "error": "method_not_supported_for_channel_type"})
        if channel.is_general:
            return JSONResponse({"ok": False, "error": "cant_archive_general"})
        if channel.is_archived:
            return JSONResponse({"ok": False, "error": "already_archived"})
        if not channel.is_member:
            return JSONResponse({"ok": False, "error": "not_in_channel"})
        channel.is_archived = True
        return JSONResponse({"ok": True})

    async def _set_topic(self, request: Request) -> JSONResponse:
        found = await self._managed(request)
        if isinstance(found, JSONResponse):
            return found
        args, channel = found
        topic = args.get("topic")
        if not isinstance(topic, str):
            return JSONResponse({"ok": False, "error": "invalid_arguments"})
        if len(topic) > 250:
            return JSONResponse({"ok": False, "error": "too_long"})
        if channel.is_archived:
            return JSONResponse({"ok": False, "error": "is_archived"})
        if not channel.is_member:
            return JSONResponse({"ok": False, "error": "not_in_channel"})
        channel.topic = topic
        return JSONResponse({"ok": True, "channel": self._channel_json(channel)})

    async def _open(self, request: Request) -> JSONResponse:
        denied = self._authorized(request, "im:write")
        if denied is not None:
            return denied
        args = await self._args(request)
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if not users:
            return JSONResponse({"ok": False, "error": "users_list_not_supplied"})
        if len(users) > 8:
            return JSONResponse({"ok": False, "error": "too_many_users"})
        if any(user not in self.users for user in users):
            return JSONResponse({"ok": False, "error": "user_not_found"})
        # This fake opens 1:1 DMs only; a group DM (mpim:write) is not modelled.
        assert len(users) == 1, "the fake Slack opens 1:1 DMs only"
        existing = self.dm(users[0])
        if existing is None:
            existing = FakeChannel(
                self._next_id("D"),
                "",
                is_private=True,
                is_member=True,
                is_im=True,
                user=users[0],
            )
            self.channels.append(existing)
        answer: dict[str, Any] = {"ok": True, "channel": {"id": existing.id}}
        return JSONResponse(answer)

    async def _bookmarks(self, request: Request) -> JSONResponse:
        denied = self._authorized(request, "bookmarks:read")
        if denied is not None:
            return denied
        channel = self._visible((await self._args(request)).get("channel_id"))
        if channel is None:
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        return JSONResponse({"ok": True, "bookmarks": channel.bookmarks})

    async def _add_bookmark(self, request: Request) -> JSONResponse:
        denied = self._authorized(request, "bookmarks:write")
        if denied is not None:
            return denied
        args = await self._args(request)
        channel = self._visible(args.get("channel_id"))
        if channel is None:
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        if args.get("type") != "link":
            return JSONResponse({"ok": False, "error": "invalid_bookmark_type"})
        link, title = args.get("link"), args.get("title")
        if not isinstance(title, str) or not title:
            return JSONResponse({"ok": False, "error": "invalid_arguments"})
        if not isinstance(link, str) or not re.match(r"https?://", link):
            return JSONResponse({"ok": False, "error": "invalid_link"})
        if len(channel.bookmarks) >= _BOOKMARK_LIMIT:
            return JSONResponse({"ok": False, "error": "too_many_bookmarks"})
        bookmark = {
            "id": self._next_id("Bk"),
            "channel_id": channel.id,
            "title": title,
            "link": link,
            "emoji": args.get("emoji"),
            "icon_url": None,
            "type": "link",
            "entity_id": None,
            "date_created": self._clock,
            "date_updated": 0,
            "rank": "g",
            "last_updated_by_user_id": self.bot_user_id,
            "last_updated_by_team_id": self.team_id,
            "shortcut_id": None,
            "app_id": "A0FIRELINE",
        }
        channel.bookmarks.append(bookmark)
        return JSONResponse({"ok": True, "bookmark": bookmark})
