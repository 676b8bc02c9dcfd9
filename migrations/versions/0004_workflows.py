"""Workflows: definitions and their versions, runs and run steps.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.core.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], ondelete=ondelete,
                                   name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.String(20), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("run_permission", sa.String(10), nullable=False),
        sa.Column("run_team_ids", sa.JSON(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.String(20), nullable=True),
        sa.Column("updated_by_id", sa.String(20), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workflows"),
        sa.UniqueConstraint("name", name="uq_workflows_name"),
        _fk("workflows", "created_by_id", "users", "SET NULL"),
        _fk("workflows", "updated_by_id", "users", "SET NULL"),
    )
    op.create_table(
        "workflow_versions",
        sa.Column("workflow_id", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.String(20), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "version", name="pk_workflow_versions"),
        _fk("workflow_versions", "workflow_id", "workflows", "CASCADE"),
        _fk("workflow_versions", "created_by_id", "users", "SET NULL"),
    )
    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.String(20), nullable=False),
        sa.Column("workflow_id", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("trigger_event_id", sa.BigInteger(), nullable=True),
        sa.Column("started_by_id", sa.String(20), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("deadline", UTCDateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_workflow_runs"),
        # WF-2: one run per (workflow, outbox event).
        sa.UniqueConstraint("workflow_id", "trigger_event_id",
                            name="uq_workflow_runs_workflow_id"),
        _fk("workflow_runs", "workflow_id", "workflows", "CASCADE"),
        _fk("workflow_runs", "incident_id", "incidents", "CASCADE"),
        _fk("workflow_runs", "started_by_id", "users", "SET NULL"),
    )
    op.create_index("ix_workflow_runs_workflow_id", "workflow_runs", ["workflow_id"])
    op.create_index("ix_workflow_runs_incident_id", "workflow_runs", ["incident_id"])
    op.create_index("ix_workflow_runs_deadline", "workflow_runs", ["deadline"])
    op.create_table(
        "workflow_run_steps",
        sa.Column("run_id", sa.String(20), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(120), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("connection_id", sa.String(20), nullable=True),
        sa.Column("lease_owner", sa.String(80), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "step_id", name="pk_workflow_run_steps"),
        _fk("workflow_run_steps", "run_id", "workflow_runs", "CASCADE"),
    )
    op.create_index("ix_workflow_run_steps_status_due", "workflow_run_steps",
                    ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("workflow_run_steps")
    op.drop_table("workflow_runs")
    op.drop_table("workflow_versions")
    op.drop_table("workflows")
