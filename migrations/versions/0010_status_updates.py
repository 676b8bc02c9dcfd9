"""Status updates, stakeholders and the conference bridge: an incident's status updates, who
subscribes to them (users or teams), one delivery per user notified, and the incident's
conference number and URL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.core.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", ondelete=ondelete, name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    # In place on both databases (no batch copy of `incidents`, which others reference).
    op.add_column("incidents", sa.Column("conference_number", sa.String(64), nullable=True))
    op.add_column("incidents", sa.Column("conference_url", sa.String(2048), nullable=True))
    op.create_table(
        "status_updates",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("incident_id", sa.String(20),
                  _fk("status_updates", "incident_id", "incidents", "CASCADE"),
                  nullable=False),
        sa.Column("sender_id", sa.String(20),
                  _fk("status_updates", "sender_id", "users", "SET NULL"),
                  nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(1024), nullable=True),
        sa.Column("html_message", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_status_updates_incident_id", "status_updates",
                    ["incident_id"])
    op.create_table(
        "incident_subscribers",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("incident_id", sa.String(20),
                  _fk("incident_subscribers", "incident_id", "incidents", "CASCADE"),
                  nullable=False),
        sa.Column("user_id", sa.String(20),
                  _fk("incident_subscribers", "user_id", "users", "CASCADE"), nullable=True),
        sa.Column("team_id", sa.String(20),
                  _fk("incident_subscribers", "team_id", "teams", "CASCADE"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("(user_id IS NULL) <> (team_id IS NULL)",
                           name="ck_incident_subscribers_one_subscriber"),
    )
    op.create_index("uq_incident_subscribers_user", "incident_subscribers",
                    ["incident_id", "user_id"], unique=True)
    op.create_index("uq_incident_subscribers_team", "incident_subscribers",
                    ["incident_id", "team_id"], unique=True)
    op.create_table(
        "status_update_deliveries",
        sa.Column("status_update_id", sa.String(20),
                  _fk("status_update_deliveries", "status_update_id",
                      "status_updates", "CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(20),
                  _fk("status_update_deliveries", "user_id", "users", "CASCADE"),
                  primary_key=True),
        sa.Column("incident_id", sa.String(20),
                  _fk("status_update_deliveries", "incident_id", "incidents", "CASCADE"),
                  nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_status_update_deliveries_user_id_read_at", "status_update_deliveries",
                    ["user_id", "read_at"])
    op.create_index("ix_status_update_deliveries_incident_id", "status_update_deliveries",
                    ["incident_id"])


def downgrade() -> None:
    for table in ("status_update_deliveries", "incident_subscribers",
                  "status_updates"):
        op.drop_table(table)
    # Not batch mode, as 0008 says why: SQLite drops a column in place.
    op.drop_column("incidents", "conference_url")
    op.drop_column("incidents", "conference_number")
