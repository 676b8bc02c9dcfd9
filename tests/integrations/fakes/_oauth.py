"""The rules of an OAuth 2.0 authorization server, shared by the provider fakes (Slack, GitHub,
Atlassian, Microsoft), plus the client side of the code flow for tests.

Each provider module speaks its provider's own URLs, parameters and error shapes; this module
holds what they have in common:
- one registered client (id, secret) with exact redirect URIs — an unknown client or redirect
  URI gets an error page, never a redirect (RFC 6749 §4.1.2.1);
- single-use codes that expire after 10 minutes; replaying a code revokes what it issued
  (RFC 6749 §4.1.2); the token request must repeat the authorize `redirect_uri` (§4.1.3);
- PKCE S256 (RFC 7636 §4.6): a code issued with a challenge needs the matching verifier, and
  a verifier for a code issued without a challenge is refused (downgrade protection);
- access tokens with an optional lifetime, refresh tokens that rotate (the old one dies) where
  the real provider rotates them;
- a clock the tests move with `advance(seconds)` instead of sleeping.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from starlette.requests import Request

from fireline.integrations.base import OAuthProvider

FaultKind = Literal[
    "invalid_client",  # unknown client id (authorize, token)
    "bad_secret",  # known client, wrong secret (token)
    "bad_redirect_uri",  # not registered (authorize) / differs from authorize (token)
    "invalid_code",  # unknown, used or expired code
    "pkce",  # verifier missing, wrong, or sent for a code without a challenge
    "invalid_refresh",  # unknown, rotated-out or revoked refresh token
    "unsupported_grant",
    "invalid_request",  # a required authorize/token parameter is missing or malformed
]


class OAuthFault(Exception):
    def __init__(self, kind: FaultKind, description: str) -> None:
        super().__init__(description)
        self.kind = kind
        self.description = description


@dataclass
class Grant:
    """What the consenting user approved: scopes plus provider-specific facts (the Slack team,
    the GitHub login and installations, the Atlassian sites, the Microsoft tenant)."""

    scopes: tuple[str, ...]
    facts: dict[str, Any] = field(default_factory=dict)
    revoked: bool = False


@dataclass
class Issued:
    access_token: str
    refresh_token: str | None
    expires_in: int | None
    grant: Grant


@dataclass
class _Code:
    grant: Grant
    redirect_uri: str | None
    challenge: str | None
    expires_at: float
    used: bool = False
    issued: list[str] = field(default_factory=list)


@dataclass
class _Access:
    grant: Grant
    expires_at: float | None


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def with_query(uri: str, params: Mapping[str, str]) -> str:
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{urlencode(params)}"


class AuthorizationServer:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: tuple[str, ...],
        access_prefix: str,
        refresh_prefix: str,
        access_ttl: int | None,
        refresh: bool,
        rotate: bool,
        pkce: bool,
        refresh_revokes_access: bool = False,
        keep_used_refresh: bool = False,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = redirect_uris
        self.access_prefix = access_prefix
        self.refresh_prefix = refresh_prefix
        self.access_ttl = access_ttl
        self.refresh = refresh
        self.rotate = rotate
        self.pkce = pkce
        # GitHub: "Once you use a refresh token, that refresh token and the old user access
        # token will no longer work."
        self.refresh_revokes_access = refresh_revokes_access
        # Microsoft: each refresh returns a new refresh token, but the used one keeps working
        # until it expires (no reuse detection).
        self.keep_used_refresh = keep_used_refresh
        self.denied = False  # set True: the user clicks Cancel on the consent page
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self._offset = 0.0
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, Grant] = {}
        self._paired_access: dict[str, str] = {}  # refresh token -> access token issued with it

    # -- clock -----------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    # -- authorize -------------------------------------------------------------------------
    def authorize(self, query: Mapping[str, str], grant: Grant) -> str:
        """Validates an authorization request and returns where to redirect the browser:
        the redirect URI with `code` and `state`, or with `error=access_denied` when the user
        declines. Raises OAuthFault when no redirect may happen (unknown client or URI)."""
        self.authorize_requests.append(dict(query))
        if query.get("client_id") != self.client_id:
            raise OAuthFault("invalid_client", "unknown client_id")
        redirect_uri = query.get("redirect_uri")
        if redirect_uri is not None and redirect_uri not in self.redirect_uris:
            raise OAuthFault("bad_redirect_uri", "redirect_uri is not registered for this app")
        target = redirect_uri or self.redirect_uris[0]
        state = {"state": query["state"]} if "state" in query else {}
        challenge = query.get("code_challenge")
        if challenge is not None and (
            not self.pkce or query.get("code_challenge_method") != "S256"
        ):
            return with_query(target, {"error": "invalid_request", **state})
        if self.denied:
            return with_query(target, {"error": "access_denied", **state})
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(
            grant=grant,
            redirect_uri=redirect_uri,
            challenge=challenge,
            expires_at=self.now() + 600,
        )
        return with_query(target, {"code": code, **state})

    # -- token -----------------------------------------------------------------------------
    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        if client_id != self.client_id:
            raise OAuthFault("invalid_client", "unknown client_id")
        if not hmac.compare_digest((client_secret or "").encode(), self.client_secret.encode()):
            raise OAuthFault("bad_secret", "client_secret is wrong")

    def exchange_code(
        self,
        *,
        code: str | None,
        redirect_uri: str | None,
        code_verifier: str | None,
    ) -> Issued:
        entry = self._codes.get(code or "")
        if entry is None or entry.expires_at < self.now():
            raise OAuthFault("invalid_code", "the code is unknown or expired")
        if entry.used:
            # RFC 6749 §4.1.2: a replayed code SHOULD revoke the tokens it issued.
            for token in entry.issued:
                self._access.pop(token, None)
                self._refresh.pop(token, None)
            raise OAuthFault("invalid_code", "the code was already redeemed")
        if entry.redirect_uri is not None and redirect_uri != entry.redirect_uri:
            raise OAuthFault("bad_redirect_uri", "redirect_uri differs from the authorize request")
        if entry.challenge is not None:
            if not code_verifier or not hmac.compare_digest(s256(code_verifier), entry.challenge):
                raise OAuthFault("pkce", "the code_verifier does not match the code_challenge")
        elif code_verifier:
            raise OAuthFault("pkce", "code_verifier sent but no code_challenge was")
        entry.used = True
        issued = self.issue(entry.grant)
        entry.issued += [issued.access_token, *filter(None, [issued.refresh_token])]
        return issued

    def refresh_tokens(self, *, refresh_token: str | None) -> Issued:
        grant = self._refresh.get(refresh_token or "")
        if grant is None or grant.revoked:
            raise OAuthFault("invalid_refresh", "the refresh token is unknown, used or revoked")
        if self.refresh_revokes_access:
            self._access.pop(self._paired_access.get(refresh_token or "", ""), None)
        if self.rotate:
            if not self.keep_used_refresh:
                del self._refresh[refresh_token or ""]
            return self.issue(grant)
        return self.issue(grant, refresh_token=refresh_token)

    def issue(self, grant: Grant, *, refresh_token: str | None = None) -> Issued:
        """Issues tokens for a grant directly (tests that only need a working token)."""
        access = self.access_prefix + secrets.token_hex(16)
        expires_at = None if self.access_ttl is None else self.now() + self.access_ttl
        self._access[access] = _Access(grant=grant, expires_at=expires_at)
        if self.refresh and refresh_token is None:
            refresh_token = self.refresh_prefix + secrets.token_hex(16)
            self._refresh[refresh_token] = grant
        if refresh_token is not None:
            self._paired_access[refresh_token] = access
        return Issued(access, refresh_token, self.access_ttl, grant)

    # -- resource side ---------------------------------------------------------------------
    def check(self, access_token: str | None) -> tuple[str, Grant | None]:
        """("ok", grant) or (reason, None) with reason in missing/unknown/expired/revoked."""
        if not access_token:
            return "missing", None
        entry = self._access.get(access_token)
        if entry is None:
            return "unknown", None
        if entry.grant.revoked:
            return "revoked", None
        if entry.expires_at is not None and entry.expires_at < self.now():
            return "expired", None
        return "ok", entry.grant


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def client_credentials(request: Request, form: Mapping[str, str]) -> tuple[str | None, str | None]:
    """RFC 6749 §2.3.1: HTTP Basic (preferred) or `client_id`/`client_secret` in the body."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        client_id, _, client_secret = base64.b64decode(value).decode().partition(":")
        return client_id, client_secret
    return form.get("client_id"), form.get("client_secret")


# -- the client side, as the connections package drives it (for tests) ---------------------
@dataclass
class TokenAnswer:
    status: int
    body: dict[str, Any]


async def authorize(
    client: httpx.AsyncClient,
    provider: OAuthProvider,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    code_challenge: str | None = None,
) -> httpx.Response:
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "state": state,
        **provider.extra_authorize_params,
    }
    if provider.scopes:
        params[provider.scope_param] = provider.scope_separator.join(provider.scopes)
    if code_challenge is not None:
        params |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
    return await client.get(provider.authorize_url, params=params)


async def approve_with_pkce(
    client: httpx.AsyncClient, provider: OAuthProvider, *, client_id: str, redirect_uri: str,
    state: str = "st",
) -> tuple[str, dict[str, str]]:
    """The user's approval with a fresh S256 challenge: (code verifier, callback parameters)."""
    verifier, challenge = pkce_pair()
    response = await authorize(client, provider, client_id=client_id,
                               redirect_uri=redirect_uri, state=state, code_challenge=challenge)
    return verifier, callback_params(response)


def callback_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    return dict(parse_qsl(urlsplit(response.headers["location"]).query))


async def token_request(
    client: httpx.AsyncClient,
    provider: OAuthProvider,
    fields: Mapping[str, str],
    *,
    as_json: bool = False,
) -> TokenAnswer:
    """POSTs to the token endpoint; the error body is returned, not raised, because
    `parse_tokens` must read it (providers answer refusals with 200, 400, 401 or 403)."""
    headers = {"Accept": "application/json"}
    if as_json:
        response = await client.post(provider.token_url, json=dict(fields), headers=headers)
    else:
        response = await client.post(provider.token_url, data=dict(fields), headers=headers)
    return TokenAnswer(response.status_code, response.json())
