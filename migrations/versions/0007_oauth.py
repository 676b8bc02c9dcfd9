"""OAuth 2.0 authorization server: apps, codes, grants, tokens (secrets as SHA-256 only);
service integrations may name an app as their vendor, with no routing key.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.core.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _fk(column: str, table: str, target: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", ondelete="CASCADE",
                         name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "oauth_apps",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.String(20), sa.ForeignKey(
            "users.id", ondelete="SET NULL", name="fk_oauth_apps_created_by_id_users"),
            nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("client_id", name="uq_oauth_apps_client_id"),
    )
    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("app_id", sa.String(20), _fk("app_id", "oauth_codes", "oauth_apps"),
                  nullable=False),
        sa.Column("user_id", sa.String(20), _fk("user_id", "oauth_codes", "users"),
                  nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        sa.Column("code_challenge_method", sa.String(10), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("grant_id", sa.String(20), nullable=True),
    )
    op.create_index("ix_oauth_codes_app_id", "oauth_codes", ["app_id"])
    op.create_index("ix_oauth_codes_user_id", "oauth_codes", ["user_id"])
    op.create_table(
        "oauth_grants",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("app_id", sa.String(20), _fk("app_id", "oauth_grants", "oauth_apps"),
                  nullable=False),
        sa.Column("user_id", sa.String(20), _fk("user_id", "oauth_grants", "users"),
                  nullable=False),
        sa.Column("grant_type", sa.String(40), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_reason", sa.String(40), nullable=True),
    )
    op.create_index("ix_oauth_grants_app_id", "oauth_grants", ["app_id"])
    op.create_index("ix_oauth_grants_user_id", "oauth_grants", ["user_id"])
    op.create_table(
        "oauth_tokens",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("grant_id", sa.String(20), _fk("grant_id", "oauth_tokens", "oauth_grants"),
                  nullable=False),
        sa.Column("access_hash", sa.String(64), nullable=False),
        sa.Column("refresh_hash", sa.String(64), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("refreshed_at", UTCDateTime(), nullable=True),
        sa.Column("access_revoked_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("access_hash", name="uq_oauth_tokens_access_hash"),
        sa.UniqueConstraint("refresh_hash", name="uq_oauth_tokens_refresh_hash"),
    )
    op.create_index("ix_oauth_tokens_grant_id", "oauth_tokens", ["grant_id"])
    with op.batch_alter_table("service_integrations") as batch:
        batch.alter_column("routing_key", existing_type=sa.String(32), nullable=True)
        batch.add_column(sa.Column(
            "vendor_app_id", sa.String(20),
            _fk("vendor_app_id", "service_integrations", "oauth_apps"), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("service_integrations") as batch:
        batch.drop_column("vendor_app_id")
    op.execute("DELETE FROM service_integrations WHERE routing_key IS NULL")
    with op.batch_alter_table("service_integrations") as batch:
        batch.alter_column("routing_key", existing_type=sa.String(32), nullable=False)
    op.drop_table("oauth_tokens")
    op.drop_table("oauth_grants")
    op.drop_table("oauth_codes")
    op.drop_table("oauth_apps")
