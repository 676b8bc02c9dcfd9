"""Who is calling, and what their roles let them do.

Credentials are read from the `Authorization` header or the session cookie only, never from a
query string (OA-9). Requests authenticated by the session cookie must echo the CSRF token
for any method that changes state. Later capabilities add their rules here, next to these.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.accounts import service
from fireline.accounts.models import User
from fireline.accounts.roles import BaseRole
from fireline.core.errors import AccessDeniedError, AuthenticationError
from fireline.oauth import scopes
from fireline.oauth import service as oauth

SESSION_COOKIE = "fireline_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    user: User
    read_only: bool
    via: Literal["api_key", "session", "oauth"]
    credential_id: str
    # An OAuth token's scopes; None for API keys and sessions, which carry no scope.
    scopes: frozenset[str] | None = None

    @property
    def role(self) -> BaseRole:
        return BaseRole(self.user.role)

    @property
    def is_admin(self) -> bool:
        return self.role in {BaseRole.OWNER, BaseRole.ADMIN}

    @property
    def is_global_manager_or_above(self) -> bool:
        return self.role in {BaseRole.OWNER, BaseRole.ADMIN, BaseRole.MANAGER}


def csrf_token_for(session_secret: str) -> str:
    # Derived from the HttpOnly cookie: a page can show it, another site cannot compute it.
    return hashlib.sha256(b"fireline-csrf:" + session_secret.encode()).hexdigest()


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    # Safe methods only read (SQLite: a deferred transaction that does not wait for writers).
    read_only = request.method in _SAFE_METHODS
    async with request.app.state.database.session(read_only=read_only) as session:
        yield session


Session = Annotated[AsyncSession, Depends(db_session)]


def _token_from_header(value: str) -> tuple[str, str] | None:
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() == "token":
        # PagerDuty: `Authorization: Token token=KEY`
        key, _, token = rest.strip().partition("=")
        if key.strip().lower() == "token" and token.strip():
            return "token", token.strip()
    if scheme.lower() == "bearer" and rest.strip():
        return "bearer", rest.strip()
    return None


async def current_principal(request: Request, session: Session) -> Principal:
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    principal = await _authenticate(request, session)
    limiter = getattr(request.app.state, "rest_limiter", None)
    if limiter is not None:  # PagerDuty: REST requests are limited per credential
        limiter.check(principal.credential_id)
    if principal.read_only and request.method not in _SAFE_METHODS:
        raise AccessDeniedError("This API key is read-only")
    if principal.scopes is not None:
        _check_scope(request, principal.scopes)
    request.state.principal = principal
    return principal


def _check_scope(request: Request, granted: frozenset[str]) -> None:
    """OA-10: one table (`oauth.scopes.ROUTE_SCOPES`) says what each route needs of a token;
    the route's own role checks still apply after this one."""
    route = getattr(request.scope.get("route"), "path", "")
    required = scopes.required_scope(request.method, route)
    if required is None:
        raise AccessDeniedError("OAuth tokens cannot call this endpoint",
                                errors=["Use an API key or sign in"])
    if required and not scopes.covers(granted, required):
        raise AccessDeniedError(f"This token's scopes do not include {required}",
                                errors=[f"Missing scope: {required}"])


async def _authenticate(request: Request, session: AsyncSession) -> Principal:
    header = request.headers.get("authorization")
    if header:
        parsed = _token_from_header(header)
        if parsed is None:
            raise AuthenticationError()
        kind, secret = parsed
        if kind == "token":
            found = await service.authenticate_api_key(session=session, secret=secret)
            if found is None:
                raise AuthenticationError()
            service.note_api_key_use(request.app.state.database, found)
            return Principal(found.user, found.read_only, "api_key", found.credential_id)
        bearer = await oauth.authenticate_bearer(session=session, token=secret)
        if bearer is None:
            # RFC 6750 §3.1: tells the app to refresh, or to send its user to authorize again.
            raise AuthenticationError(headers={
                "www-authenticate": 'Bearer realm="fireline", error="invalid_token"'})
        oauth.note_use(request.app.state.database, bearer)
        return Principal(bearer.user, False, "oauth", bearer.grant_id, bearer.scopes)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = await service.authenticate_session(session=session, secret=cookie)
        if found is None:
            raise AuthenticationError()
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent, csrf_token_for(cookie)):
                raise AccessDeniedError("Missing or invalid CSRF token")
        return Principal(found.user, False, "session", found.credential_id)
    raise AuthenticationError()


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

