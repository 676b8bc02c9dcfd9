"""Apps, the authorizations people gave them, and the tokens those authorizations carry.

Registering an app returns its client secret once; only its SHA-256 is kept (OA-7).
Disabling or deleting an app, revoking an authorization and disabling or deleting a user end
every token concerned at once (OA-10): a token is honoured only while its grant, its app and
its user all stand, and its user is not disabled. Every change is audited in the same
transaction (AUD-1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from fireline.accounts.models import User
from fireline.accounts.tokens import digest, new_secret
from fireline.core import audit
from fireline.core.clock import utcnow
from fireline.core.db import Database
from fireline.core.errors import InvalidInputError, NotFoundError
from fireline.core.logging import get_logger
from fireline.oauth import scopes
from fireline.oauth.models import OAuthApp, OAuthGrant, OAuthToken
from fireline.oauth.server import (
    LAST_USED_RESOLUTION,
    Caller,
    HttpRequest,
    Server,
    is_loopback,
)

T = TypeVar("T")
log = get_logger("fireline.oauth")
DEFAULT_SCOPES = (scopes.READ, scopes.WRITE)
_MAX_REDIRECT_URIS = 10


@dataclass(frozen=True)
class NewApp:
    name: str
    redirect_uris: list[str]
    public: bool = False
    scopes: list[str] | None = None


def check_redirect_uri(uri: str) -> str:
    """OA-1 at registration: absolute, no fragment (RFC 6749 §3.1.2); https, or http to a
    loopback address, or a private-use scheme of a native app (RFC 8252 §7.1, a reversed
    domain name such as `com.example.app:/callback`)."""
    uri = uri.strip()
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        raise InvalidInputError(f"Redirect URI {uri!r} is not a valid URL") from None
    if parts.fragment or "#" in uri:
        raise InvalidInputError(f"Redirect URI {uri!r} must not have a fragment")
    if parts.username is not None:
        raise InvalidInputError(f"Redirect URI {uri!r} must not carry user information")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and is_loopback(parts.hostname):
        return uri
    if parts.scheme == "http":
        raise InvalidInputError(f"Redirect URI {uri!r}: http is allowed for loopback "
                                "addresses only; use https")
    if "." in parts.scheme and parts.scheme not in {"http", "https"} and parts.path:
        return uri
    raise InvalidInputError(f"Redirect URI {uri!r} must be https, http to a loopback "
                            "address, or a native app's private-use scheme")


def _check_scopes(requested: list[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(requested or DEFAULT_SCOPES))
    unknown = scopes.unknown(chosen)
    if unknown:
        raise InvalidInputError(f"Unknown scope {unknown[0]!r}",
                                errors=[f"scopes must be among: {', '.join(sorted(scopes.KNOWN))}"])
    return chosen


def _actor(user: User) -> dict[str, str]:
    return {"actor_id": user.id, "actor": user.email}


async def create_app(*, session: AsyncSession, actor: User, data: NewApp,
                     request_id: str | None = None) -> tuple[OAuthApp, str | None]:
    """Returns the app and, for a confidential one, its client secret (never shown again)."""
    name = data.name.strip()
    if not name or len(name) > 200:
        raise InvalidInputError("name must be 1 to 200 characters")
    if not data.redirect_uris:
        raise InvalidInputError("At least one redirect URI is required")
    if len(data.redirect_uris) > _MAX_REDIRECT_URIS:
        raise InvalidInputError(f"At most {_MAX_REDIRECT_URIS} redirect URIs")
    uris = list(dict.fromkeys(check_redirect_uri(uri) for uri in data.redirect_uris))
    secret = None if data.public else new_secret()
    app = OAuthApp(client_id=new_secret()[:32], name=name, redirect_uris=uris,
                   scopes=_check_scopes(data.scopes), created_by_id=actor.id,
                   secret_hash=digest(secret) if secret else None)
    session.add(app)
    await session.flush()
    audit.record(session, **_actor(actor), action="oauth_app.created", target_type="oauth_app",
                 target_id=app.id, request_id=request_id,
                 details={"name": name, "public": data.public, "scopes": app.scopes,
                          "redirect_uris": uris})
    return app, secret


async def list_apps(*, session: AsyncSession) -> list[OAuthApp]:
    return list(await session.scalars(select(OAuthApp).order_by(OAuthApp.created_at)))


async def get_app(*, session: AsyncSession, app_id: str) -> OAuthApp:
    app = await session.get(OAuthApp, app_id)
    if app is None:
        raise NotFoundError("No such OAuth app")
    return app


async def _revoke(session: AsyncSession, reason: str, *conditions: Any) -> int:
    result = await session.execute(
        update(OAuthGrant).where(OAuthGrant.revoked_at.is_(None), *conditions)
        .values(revoked_at=utcnow(), revoked_reason=reason))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def set_app_disabled(*, session: AsyncSession, actor: User, app_id: str, disabled: bool,
                           request_id: str | None = None) -> OAuthApp:
    """Disabling revokes every token of the app; enabling again does not bring them back."""
    app = await get_app(session=session, app_id=app_id)
    revoked = 0
    if disabled and app.disabled_at is None:
        app.disabled_at = utcnow()
        revoked = await _revoke(session, "app_disabled", OAuthGrant.app_id == app.id)
    elif not disabled:
        app.disabled_at = None
    audit.record(session, **_actor(actor),
                 action="oauth_app.disabled" if disabled else "oauth_app.enabled",
                 target_type="oauth_app", target_id=app.id, request_id=request_id,
                 details={"grants_revoked": revoked})
    await session.flush()
    return app


async def delete_app(*, session: AsyncSession, actor: User, app_id: str,
                     request_id: str | None = None) -> None:
    app = await get_app(session=session, app_id=app_id)
    await session.delete(app)  # its codes, grants and tokens go with it (ON DELETE CASCADE)
    audit.record(session, **_actor(actor), action="oauth_app.deleted", target_type="oauth_app",
                 target_id=app_id, request_id=request_id, details={"name": app.name})
    await session.flush()


@dataclass(frozen=True)
class Authorization:
    app: OAuthApp
    scopes: list[str]
    authorized_at: datetime
    last_used_at: datetime | None


async def authorizations_of(*, session: AsyncSession, user: User) -> list[Authorization]:
    """The apps a user has authorized and not revoked, one entry per app."""
    rows = await session.execute(
        select(OAuthApp, OAuthGrant)
        .join(OAuthGrant, OAuthGrant.app_id == OAuthApp.id)
        .where(OAuthGrant.user_id == user.id, OAuthGrant.revoked_at.is_(None),
               OAuthGrant.grant_type == "authorization_code")
        .order_by(OAuthGrant.created_at)
    )
    found: dict[str, Authorization] = {}
    for app, grant in rows:
        known = found.get(app.id)
        granted = grant.scope.split()
        if known is None:
            found[app.id] = Authorization(app, granted, grant.created_at, grant.last_used_at)
            continue
        last_used = max((t for t in (known.last_used_at, grant.last_used_at) if t), default=None)
        found[app.id] = Authorization(app, list(dict.fromkeys([*known.scopes, *granted])),
                                      known.authorized_at, last_used)
    return list(found.values())


async def revoke_authorization(*, session: AsyncSession, user: User, app_id: str,
                               request_id: str | None = None) -> None:
    revoked = await _revoke(session, "revoked_by_user", OAuthGrant.user_id == user.id,
                            OAuthGrant.app_id == app_id)
    if not revoked:
        raise NotFoundError("You have not authorized this app")
    audit.record(session, **_actor(user), action="oauth_authorization.revoked",
                 target_type="oauth_app", target_id=app_id, request_id=request_id,
                 details={"grants_revoked": revoked})


async def revoke_grants_of(*, session: AsyncSession, user: User, reason: str) -> int:
    """Ends every authorization `user` gave and every token they carry (OA-10); returns how
    many grants were revoked. The caller audits the change that called for it."""
    return await _revoke(session, reason, OAuthGrant.user_id == user.id)


@dataclass(frozen=True)
class BearerIdentity:
    user: User
    grant_id: str
    scopes: frozenset[str]
    last_used_at: datetime | None


# Built once: every Bearer request runs it.
_BEARER_LOOKUP = (
    select(User, OAuthGrant.id, OAuthToken.scope, OAuthGrant.last_used_at)
    .join(OAuthGrant, OAuthGrant.id == OAuthToken.grant_id)
    .join(OAuthApp, OAuthApp.id == OAuthGrant.app_id)
    .join(User, User.id == OAuthGrant.user_id)
    .where(OAuthToken.access_hash == bindparam("access_hash"),
           OAuthToken.access_revoked_at.is_(None), OAuthToken.expires_at > bindparam("now"),
           OAuthGrant.revoked_at.is_(None), OAuthApp.disabled_at.is_(None),
           # OA-10: a disabled user's tokens end at once, even one issued after disabling
           # (a client-credentials token acts as the app's registrar).
           User.disabled_at.is_(None))
)


async def authenticate_bearer(*, session: AsyncSession, token: str) -> BearerIdentity | None:
    row = (await session.execute(
        _BEARER_LOOKUP, {"access_hash": digest(token), "now": utcnow()})).first()
    if row is None:
        return None
    user, grant_id, scope, last_used_at = row
    return BearerIdentity(user, grant_id, frozenset(scope.split()), last_used_at)


def note_use(database: Database, identity: BearerIdentity) -> None:
    """Records when an authorization was last used, for the person who gave it: at most once
    a minute per grant, in its own transaction, so that reads stay read-only and fast."""
    last = identity.last_used_at
    if last is not None and utcnow() - last < LAST_USED_RESOLUTION:
        return
    grant_id = identity.grant_id
    database.in_background(f"oauth-grant:{grant_id}", lambda: _touch(database, grant_id))


async def _touch(database: Database, grant_id: str) -> None:
    try:
        async with database.transaction() as session:
            await session.execute(update(OAuthGrant).where(OAuthGrant.id == grant_id)
                                  .values(last_used_at=utcnow()))
    except Exception:  # a missed "last used" time is not worth failing or retrying for
        log.debug("oauth_last_used_not_recorded", grant_id=grant_id, exc_info=True)


async def run(session: AsyncSession, request: HttpRequest, *, issuer: str,
              access_token_lifetime: timedelta, caller: Caller,
              handler: Callable[[Server, HttpRequest], T]) -> T:
    """Runs Authlib's synchronous `handler` on this session's connection (see server.py)."""

    def work(sync_session: Session) -> T:
        server = Server(sync_session, issuer=issuer, access_token_lifetime=access_token_lifetime,
                        caller=caller)
        return handler(server, request)

    return await session.run_sync(work)

