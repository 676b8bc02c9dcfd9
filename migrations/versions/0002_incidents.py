"""Incidents platform: services, integrations, incidents, notes, log entries, outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.core.db import UTCDateTime
from fireline.incidents.catalog import STANDARD_PRIORITIES

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_OPEN = sa.text("status != 'resolved'")


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{target}.id", ondelete=ondelete, name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("team_id", sa.String(20), _fk("services", "team_id", "teams", "SET NULL"),
                  nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("name", name="uq_services_name"),
    )
    op.create_index("ix_services_team_id", "services", ["team_id"])
    op.create_table(
        "service_on_call",
        sa.Column("service_id", sa.String(20),
                  _fk("service_on_call", "service_id", "services", "CASCADE"), primary_key=True),
        sa.Column("user_id", sa.String(20),
                  _fk("service_on_call", "user_id", "users", "CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_service_on_call_user_id", "service_on_call", ["user_id"])
    op.create_table(
        "service_integrations",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("service_id", sa.String(20),
                  _fk("service_integrations", "service_id", "services", "CASCADE"),
                  nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("routing_key", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("routing_key", name="uq_service_integrations_routing_key"),
    )
    op.create_index("ix_service_integrations_service_id", "service_integrations", ["service_id"])
    priorities = op.create_table(
        "priorities",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("color", sa.String(16), nullable=False),
        sa.Column("order", sa.Integer(), nullable=False),
        sa.UniqueConstraint("name", name="uq_priorities_name"),
    )
    op.bulk_insert(priorities, [
        {"id": id_, "name": name, "description": description, "color": color, "order": order}
        for id_, name, description, color, order in STANDARD_PRIORITIES
    ])
    op.create_table(
        "incident_counters",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", _BigId, nullable=False),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("incident_number", _BigId, nullable=False),
        sa.Column("title", sa.String(1024), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("incident_key", sa.String(255), nullable=False),
        sa.Column("service_id", sa.String(20),
                  _fk("incidents", "service_id", "services", "CASCADE"), nullable=False),
        sa.Column("priority_id", sa.String(20),
                  _fk("incidents", "priority_id", "priorities", "SET NULL"), nullable=True),
        sa.Column("last_status_change_by", sa.JSON(), nullable=False),
        sa.Column("acknowledgements", sa.JSON(), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("first_trigger_log_entry_id", sa.String(20), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_status_change_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("incident_number", name="uq_incidents_incident_number"),
    )
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])
    # WF-2: at most one open incident per (service, incident_key).
    op.create_index(
        "uq_incidents_open_incident_key", "incidents", ["service_id", "incident_key"],
        unique=True, sqlite_where=_OPEN, postgresql_where=_OPEN,
    )
    op.create_table(
        "incident_assignments",
        sa.Column("incident_id", sa.String(20),
                  _fk("incident_assignments", "incident_id", "incidents", "CASCADE"),
                  primary_key=True),
        sa.Column("user_id", sa.String(20),
                  _fk("incident_assignments", "user_id", "users", "CASCADE"), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_incident_assignments_user_id", "incident_assignments", ["user_id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("incident_id", sa.String(20),
                  _fk("alerts", "incident_id", "incidents", "CASCADE"), nullable=False),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("summary", sa.String(1024), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_alerts_incident_id", "alerts", ["incident_id"])
    op.create_table(
        "incident_notes",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("incident_id", sa.String(20),
                  _fk("incident_notes", "incident_id", "incidents", "CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(20),
                  _fk("incident_notes", "user_id", "users", "SET NULL"), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_incident_notes_incident_id", "incident_notes", ["incident_id"])
    op.create_table(
        "log_entries",
        sa.Column("id", sa.String(20), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.String(20),
                  _fk("log_entries", "incident_id", "incidents", "CASCADE"), nullable=False),
        sa.Column("service_id", sa.String(20), nullable=False),
        sa.Column("agent", sa.JSON(), nullable=False),
        sa.Column("channel", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(1024), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_log_entries_incident_id", "log_entries", ["incident_id"])
    op.create_index("ix_log_entries_created_at", "log_entries", ["created_at"])
    op.create_table(
        "outbox_events",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.String(20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_outbox_events_incident_id", "outbox_events", ["incident_id"])


def downgrade() -> None:
    for table in ("outbox_events", "log_entries", "incident_notes", "alerts",
                  "incident_assignments", "incidents", "incident_counters", "priorities",
                  "service_integrations", "service_on_call", "services"):
        op.drop_table(table)
