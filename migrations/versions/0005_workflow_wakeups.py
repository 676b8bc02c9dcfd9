"""Workflow wake-ups on PostgreSQL: inserting outbox events or run steps NOTIFYs
`fireline_workflows` (see `fireline.workflows.wakeup`).

A statement-level trigger, so a writer pays no extra round trip and every writer is
covered, ORM or Core; PostgreSQL delivers the notification only if the transaction
commits, and once however many rows or statements it had. SQLite has nothing to notify:
its engines run in the writers' process and are woken there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TABLES = ("outbox_events", "workflow_run_steps")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION fireline_workflows_wake() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('fireline_workflows', '');
            RETURN NULL;
        END $$
    """)
    for table in _TABLES:
        op.execute(f"CREATE TRIGGER {table}_wake_workflows AFTER INSERT ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION fireline_workflows_wake()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_wake_workflows ON {table}")
    op.execute("DROP FUNCTION IF EXISTS fireline_workflows_wake()")
