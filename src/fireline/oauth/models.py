"""Apps, authorization codes, grants and tokens of the OAuth 2.0 authorization server.

Every secret here — client secrets, codes, access and refresh tokens — is stored as its
SHA-256 only (OA-7): 256-bit random values need no slow hash, and a database dump lets nobody
act as an app or a user. A *grant* is one authorization of one app by one user (or, for the
client-credentials grant, of the app by its registrar): all the tokens issued from it, by
every refresh since, belong to it, so revoking the grant revokes the whole family (OA-6).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fireline.core.clock import utcnow
from fireline.core.db import Base, UTCDateTime
from fireline.core.ids import new_id


class OAuthApp(Base):
    __tablename__ = "oauth_apps"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # None for a public client (a native or browser app that cannot keep a secret).
    secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    # The admin who registered the app: a client-credentials token acts as them (OA-10);
    # once they are removed the app keeps its users' authorizations but cannot act as itself.
    created_by_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def public(self) -> bool:
        return self.secret_hash is None


class OAuthCode(Base):
    __tablename__ = "oauth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"),
                                        index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128), default=None)
    code_challenge_method: Mapped[str | None] = mapped_column(String(10), default=None)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the code is exchanged: a second exchange revokes this grant (OA-4).
    grant_id: Mapped[str | None] = mapped_column(String(20), default=None)


class OAuthGrant(Base):
    __tablename__ = "oauth_grants"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"),
                                        index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    grant_type: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), default=None)


class OAuthToken(Base):
    """One access token and (for grants that refresh) the refresh token issued with it."""

    __tablename__ = "oauth_tokens"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    grant_id: Mapped[str] = mapped_column(ForeignKey("oauth_grants.id", ondelete="CASCADE"),
                                          index=True)
    access_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the refresh token is used: using it again is a replay (OA-6).
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The access token alone revoked (RFC 7009); revoking the grant ends both tokens.
    access_revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    def __repr__(self) -> str:  # never the hashes, even in a debugger or a log line
        return f"OAuthToken(id={self.id!r}, grant_id={self.grant_id!r})"

