"""Loop steps: a run step counts the iteration of the `loop_until` it belongs to (0 outside
loops, and for a loop's first pass).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("workflow_run_steps", sa.Column("iteration", sa.Integer(), nullable=False,
                                                  server_default="0"))


def downgrade() -> None:
    op.drop_column("workflow_run_steps", "iteration")
