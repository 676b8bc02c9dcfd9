"""The authorization server: Authlib's grants, PKCE, revocation and issuer parameter, bound
to Fireline's apps and tokens.

Authlib's server is synchronous. Each request builds an `AuthorizationServer` around a
synchronous SQLAlchemy session, and the caller runs it with `AsyncSession.run_sync`, which
drives that session on the async connection (a greenlet, no thread): the same transaction, the
same database, on both SQLite and PostgreSQL. The result is an `Outcome` that the HTTP layer
turns into a response after the transaction has committed.

What we add to Authlib is policy, each rule next to its source:
- redirect URIs match exactly; only a loopback redirect's port may vary (OA-1, RFC 8252 §7.3);
- S256 is the only PKCE method, and a public client must use it (OA-3, RFC 9700 §2.1.1);
- a code is single-use, lives `CODE_LIFETIME`, and a reused one revokes its grant (OA-4);
- refresh tokens rotate; a replayed one revokes the grant's whole family (OA-6, RFC 9700
  §4.14.2);
- client secrets and tokens are compared as SHA-256 digests with `hmac.compare_digest` (OA-7).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from fireline.accounts.models import User
from fireline.accounts.tokens import digest, new_secret
from fireline.core import audit
from fireline.core.clock import utcnow
from fireline.core.ids import new_id
from fireline.oauth import scopes
from fireline.oauth.models import OAuthApp, OAuthCode, OAuthGrant, OAuthToken

# Authlib logs issued tokens at DEBUG ("Issue token {...}"): its loggers never go below INFO.
logging.getLogger("authlib").setLevel(logging.INFO)

CODE_LIFETIME = timedelta(seconds=30)
LAST_USED_RESOLUTION = timedelta(minutes=1)
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
_LOOPBACK_NAMES = {"localhost"}


@dataclass
class Outcome:
    """An HTTP answer from Authlib, framework-free."""

    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def location(self) -> str | None:
        return next((value for name, value in self.headers if name.lower() == "location"), None)

    @location.setter
    def location(self, value: str) -> None:  # RFC 9207: Authlib adds `iss` this way
        self.headers = [(n, v) for n, v in self.headers if n.lower() != "location"]
        self.headers.append(("Location", value))


@dataclass(frozen=True)
class Caller:
    """Who is behind the request, for the audit log."""

    request_id: str | None
    user: User | None = None


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, values: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in values:
            self._datalist[key].append(value)
        self._data = {key: items[0] for key, items in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class HttpRequest(OAuth2Request):  # type: ignore[misc]
    """An already-read HTTP request: `args` from the query, `form` from the body."""

    def __init__(self, method: str, uri: str, headers: Mapping[str, str],
                 args: list[tuple[str, str]], form: list[tuple[str, str]]) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = dict(args)
        self._form = dict(form)
        self.payload = _Payload([*args, *form])

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_uri_matches(registered: str, sent: str) -> bool:
    """OA-1: exact match, except that a loopback redirect's port may vary (RFC 8252 §7.3:
    native apps listen on whatever port the OS gives them)."""
    if registered == sent:
        return True
    a, b = urlsplit(registered), urlsplit(sent)
    if a.scheme != "http" or not is_loopback(a.hostname):
        return False
    try:
        b.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        return False
    return (a.scheme, a.hostname, a.path, a.query, a.fragment, a.username) == (
        b.scheme, b.hostname, b.path, b.query, b.fragment, b.username)


class Client:
    """Authlib's ClientMixin over an app row."""

    def __init__(self, app: OAuthApp) -> None:
        self.app = app

    def get_client_id(self) -> str:
        return self.app.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 6749 §3.1.2.3: with several registered, the request must name one.
        uris = self.app.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        requested = (scope or "").split()
        if not requested:
            return " ".join(self.app.scopes)
        if not set(requested) <= set(self.app.scopes):
            return None  # invalid_scope: the app was not registered for it
        return " ".join(dict.fromkeys(requested))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(redirect_uri_matches(uri, redirect_uri) for uri in self.app.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        if self.app.secret_hash is None:
            return False
        return hmac.compare_digest(digest(client_secret), self.app.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.app.public:
            return method == "none"
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            # An app acting as itself must prove it is itself, and acts as its registrar.
            return not self.app.public and self.app.created_by_id is not None
        return grant_type in GRANT_TYPES


@dataclass
class Code:
    """Authlib's AuthorizationCodeMixin over a code row, claimed for `grant_id`."""

    row: OAuthCode
    grant_id: str

    @property
    def code_challenge(self) -> str | None:
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str | None:
        return self.row.code_challenge_method

    def get_redirect_uri(self) -> str | None:
        return self.row.redirect_uri or None

    def get_scope(self) -> str:
        return self.row.scope


@dataclass
class Token:
    """Authlib's TokenMixin over a token row and its grant."""

    row: OAuthToken
    grant: OAuthGrant
    via_refresh: bool

    def check_client(self, client: Client) -> bool:
        return self.grant.app_id == client.app.id

    def get_scope(self) -> str:
        return self.grant.scope

    def get_expires_in(self) -> int:
        return int((self.row.expires_at - self.row.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.row.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        if self.via_refresh:
            return self.grant.revoked_at is not None
        return self.row.access_revoked_at is not None or self.grant.revoked_at is not None


class Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, db: Session, *, issuer: str, access_token_lifetime: timedelta,
                 caller: Caller) -> None:
        super().__init__(scopes_supported=sorted(scopes.KNOWN))
        self.db = db
        self.issuer = issuer
        self.caller = caller
        self.now = utcnow()
        self.access_token_lifetime = access_token_lifetime
        self.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda **_: new_secret(),
            refresh_token_generator=lambda **_: new_secret(),
            expires_generator=lambda _client, _grant_type: int(
                access_token_lifetime.total_seconds()),
        ))
        self.register_grant(AuthorizationCodeGrant, [S256Challenge(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(Revocation)
        self.register_extension(Issuer(issuer))

    def query_client(self, client_id: str) -> Client | None:
        app = self.db.scalar(select(OAuthApp).where(
            OAuthApp.client_id == client_id, OAuthApp.disabled_at.is_(None)))
        return Client(app) if app is not None else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        client: Client = request.client
        token["token_type"] = "bearer"  # PagerDuty's spelling; RFC 6749 §5.1: case-insensitive
        if isinstance(request.refresh_token, Token):
            grant = request.refresh_token.grant
        else:
            grant_id = (request.authorization_code.grant_id
                        if isinstance(request.authorization_code, Code) else new_id())
            user_id = request.user.id if request.user is not None else client.app.created_by_id
            assert user_id is not None  # check_grant_type refused client_credentials otherwise
            grant = OAuthGrant(id=grant_id, app_id=client.app.id, user_id=user_id,
                               grant_type=request.payload.grant_type, scope=token["scope"],
                               created_at=self.now)
            self.db.add(grant)
            self.audit("oauth.grant.created", grant, details={
                "grant_type": grant.grant_type, "scope": grant.scope})
        if grant.last_used_at is None or self.now - grant.last_used_at >= LAST_USED_RESOLUTION:
            grant.last_used_at = self.now  # as for requests: to the minute, one write less
        self.db.add(OAuthToken(
            grant_id=grant.id, access_hash=digest(token["access_token"]),
            refresh_hash=digest(token["refresh_token"]) if "refresh_token" in token else None,
            scope=token["scope"], issued_at=self.now,
            expires_at=self.now + timedelta(seconds=token["expires_in"])))
        self.db.flush()

    def revoke_grant(self, grant_id: str, reason: str) -> None:
        grant = self.db.get(OAuthGrant, grant_id)
        if grant is None or grant.revoked_at is not None:
            return
        grant.revoked_at = self.now
        grant.revoked_reason = reason
        self.audit("oauth.grant.revoked", grant, outcome="failure"
                   if reason in {"code_reused", "refresh_token_replayed"} else "success",
                   details={"reason": reason})

    def audit(self, action: str, grant: OAuthGrant, *, outcome: str = "success",
              details: dict[str, Any]) -> None:
        user = self.caller.user
        audit.record(self.db, actor_id=user.id if user else None,
                     actor=user.email if user else f"oauth_app:{grant.app_id}", action=action,
                     target_type="oauth_grant", target_id=grant.id, outcome=outcome,
                     request_id=self.caller.request_id,
                     details={"app_id": grant.app_id, "user_id": grant.user_id, **details})

    def audit_consent(self, app: OAuthApp, user: User, scope: str) -> None:
        audit.record(self.db, actor_id=user.id, actor=user.email, action="oauth_app.authorized",
                     target_type="oauth_app", target_id=app.id,
                     request_id=self.caller.request_id, details={"scope": scope})

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]
                        ) -> Outcome:
        return Outcome(status, body, list(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


class Issuer(IssuerParameter):  # type: ignore[misc]
    """RFC 9207 §2: every authorization response names the issuer (OA-8)."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class S256Challenge(CodeChallenge):  # type: ignore[misc]
    """OA-3: S256 only — RFC 7636 §4.3 makes `plain` the default when no method is sent, so
    the method must be named — and no code for a public client without a challenge."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: grants.BaseGrant, redirect_uri: str) -> None:
        super().validate_code_challenge(grant, redirect_uri)
        data = grant.request.payload.data
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        if grant.request.client.app.public and not data.get("code_challenge"):
            # RFC 9700 §2.1.1: public clients MUST use PKCE.
            raise InvalidRequestError("A public client must send code_challenge (PKCE, S256)")


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    server: Server

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        db = self.server.db
        # Expired codes are useless: clear them as new ones are made.
        db.execute(delete(OAuthCode).where(OAuthCode.expires_at < self.server.now - CODE_LIFETIME))
        data = request.payload.data
        db.add(OAuthCode(
            code_hash=digest(code), app_id=request.client.app.id, user_id=request.user.id,
            redirect_uri=data.get("redirect_uri") or "", scope=request.scope,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            expires_at=self.server.now + CODE_LIFETIME))
        self.server.audit_consent(request.client.app, request.user, request.scope)

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        row = self.server.db.get(OAuthCode, digest(code))
        if row is None or row.app_id != client.app.id:
            return None  # another app's code: not ours to judge, nor to spend
        if row.grant_id is not None:
            self._reused(row.grant_id)
            return None
        if row.expires_at <= self.server.now:
            return None
        return Code(row, new_id())

    def validate_token_request(self) -> None:
        """Spends the code only once the whole request is valid (redirect URI, PKCE
        verifier): whoever saw a public client's code cannot burn it with a bad verifier."""
        super().validate_token_request()
        code: Code = self.request.authorization_code
        # One statement claims the code: of two concurrent exchanges only one wins (OA-4).
        claimed = self.server.db.execute(
            update(OAuthCode)
            .where(OAuthCode.code_hash == code.row.code_hash, OAuthCode.grant_id.is_(None))
            .values(grant_id=code.grant_id)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            self.server.db.refresh(code.row)
            if code.row.grant_id is not None:
                self._reused(code.row.grant_id)
            raise InvalidGrantError("The authorization code was already used")

    def _reused(self, grant_id: str) -> None:
        # RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it.
        self.server.revoke_grant(grant_id, "code_reused")

    def delete_authorization_code(self, authorization_code: Code) -> None:
        pass  # kept, marked used, until it expires: a replay must still find it (OA-4)

    def authenticate_user(self, authorization_code: Code) -> User | None:
        return self.server.db.get(User, authorization_code.row.user_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation (OA-6)
    server: Server

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        db = self.server.db
        # The user comes in the same statement: `authenticate_user` then finds it in the
        # session without another round trip.
        found = db.execute(
            select(OAuthToken, OAuthGrant, User)
            .join(OAuthGrant, OAuthGrant.id == OAuthToken.grant_id)
            .join(User, User.id == OAuthGrant.user_id)
            .where(OAuthToken.refresh_hash == digest(refresh_token))
        ).first()
        if found is None:
            return None
        row, grant, _user = found
        if grant.app_id != self.request.client.app.id:
            return None  # another app's token: not ours to judge, nor to spend
        if grant.revoked_at is not None:
            return None
        if row.refreshed_at is not None:
            self._replayed(grant)
            return None
        return Token(row, grant, via_refresh=True)

    def validate_token_request(self) -> None:
        """Spends the refresh token only once the request is valid (scope included): a refused
        request leaves it usable, so the app's corrected retry is no replay."""
        super().validate_token_request()
        token: Token = self.request.refresh_token
        # One statement spends the token: of two concurrent refreshes only one wins.
        spent = self.server.db.execute(
            update(OAuthToken)
            .where(OAuthToken.id == token.row.id, OAuthToken.refreshed_at.is_(None))
            .values(refreshed_at=self.server.now)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            self._replayed(token.grant)
            raise InvalidGrantError("The refresh token was already used")

    def _replayed(self, grant: OAuthGrant) -> None:
        # RFC 9700 §4.14.2: a used refresh token presented again means it leaked — revoke
        # every token of the family, the legitimate client's included.
        self.server.revoke_grant(grant.id, "refresh_token_replayed")

    def authenticate_user(self, refresh_token: Token) -> User | None:
        return self.server.db.get(User, refresh_token.grant.user_id)

    def revoke_old_credential(self, refresh_token: Token) -> None:
        pass  # spent in authenticate_refresh_token; its access token lives out its time


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Revoking a refresh token revokes its grant, access tokens included
    (§2.1: "SHOULD"); revoking an access token revokes that token."""

    CLIENT_AUTH_METHODS = list(AUTH_METHODS)
    server: Server

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        token_hash = digest(token_string)
        for column, via_refresh in ((OAuthToken.access_hash, False),
                                    (OAuthToken.refresh_hash, True)):
            found = self.server.db.execute(
                select(OAuthToken, OAuthGrant)
                .join(OAuthGrant, OAuthGrant.id == OAuthToken.grant_id)
                .where(column == token_hash)
            ).first()
            if found is not None:
                return Token(found[0], found[1], via_refresh=via_refresh)
        return None

    def revoke_token(self, token: Token, request: OAuth2Request) -> None:
        if token.via_refresh:
            self.server.revoke_grant(token.grant.id, "revoked_by_app")
        elif token.row.access_revoked_at is None:
            # The access token only: its refresh token still refreshes (§2.1 "MAY" not more).
            token.row.access_revoked_at = self.server.now
