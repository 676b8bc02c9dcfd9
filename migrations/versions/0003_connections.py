"""Workflow Integrations: connections, their teams and health history; the audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.core.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.String(20), nullable=True),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("target_type", sa.String(40), nullable=False),
        sa.Column("target_id", sa.String(40), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
    )
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"])
    op.create_index("ix_audit_events_target_id", "audit_events", ["target_id"])
    op.create_table(
        "connections",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("integration", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("configuration", sa.JSON(), nullable=False),
        sa.Column("data_key", sa.LargeBinary(), nullable=False),
        sa.Column("secrets_blob", sa.LargeBinary(), nullable=True),
        sa.Column("secret_fields", sa.JSON(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("allow_sre_agent", sa.Boolean(), nullable=False),
        sa.Column("allow_private", sa.JSON(), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("oauth_state", sa.String(20), nullable=True),
        sa.Column("health_status", sa.String(12), nullable=False),
        sa.Column("health_message", sa.Text(), nullable=True),
        sa.Column("health_checked_at", UTCDateTime(), nullable=True),
        sa.Column("health_next_check_at", UTCDateTime(), nullable=True),
        sa.Column("health_failures", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.String(20), nullable=True),
        sa.Column("updated_by_id", sa.String(20), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_connections_created_by_id_users"),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], ondelete="SET NULL",
                                name="fk_connections_updated_by_id_users"),
        sa.UniqueConstraint("external_id", name="uq_connections_external_id"),
    )
    op.create_index("ix_connections_integration", "connections", ["integration"])
    op.create_index("ix_connections_health_next_check_at", "connections",
                    ["health_next_check_at"])
    op.create_index(
        "uq_connections_default_per_integration", "connections", ["integration"], unique=True,
        sqlite_where=sa.text("is_default"), postgresql_where=sa.text("is_default"),
    )
    op.create_table(
        "connection_teams",
        sa.Column("connection_id", sa.String(20), primary_key=True),
        sa.Column("team_id", sa.String(20), primary_key=True),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                name="fk_connection_teams_connection_id_connections"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE",
                                name="fk_connection_teams_team_id_teams"),
    )
    op.create_index("ix_connection_teams_team_id", "connection_teams", ["team_id"])
    op.create_table(
        "oauth_client_states",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("connection_id", sa.String(20), nullable=False),
        sa.Column("user_id", sa.String(20), nullable=False),
        sa.Column("code_verifier_blob", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                name="fk_oauth_client_states_connection_id_connections"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_oauth_client_states_user_id_users"),
        sa.UniqueConstraint("state_hash", name="uq_oauth_client_states_state_hash"),
    )
    op.create_index("ix_oauth_client_states_connection_id", "oauth_client_states",
                    ["connection_id"])
    op.create_table(
        "connection_health_checks",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("connection_id", sa.String(20), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column("is_healthy", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"], ondelete="CASCADE",
                                name="fk_connection_health_checks_connection_id_connections"),
    )
    op.create_index("ix_connection_health_checks_connection_id", "connection_health_checks",
                    ["connection_id"])


def downgrade() -> None:
    op.drop_table("connection_health_checks")
    op.drop_table("oauth_client_states")
    op.drop_table("connection_teams")
    op.drop_table("connections")
    op.drop_table("audit_events")
