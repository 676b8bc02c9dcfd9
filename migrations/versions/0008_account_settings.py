"""Account settings: users can be disabled; API keys get a name and the time of their last use
(keys made before this are named "API key").

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fireline.core.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Adding a column is an in-place ALTER on both databases; the server default names the
    # keys that already exist.
    op.add_column("users", sa.Column("disabled_at", UTCDateTime(), nullable=True))
    op.add_column("api_keys", sa.Column("name", sa.String(100), nullable=False,
                                        server_default="API key"))
    op.add_column("api_keys", sa.Column("last_used_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    # Not batch mode: SQLite (3.35+) drops a column in place, whereas a batch copy drops and
    # re-creates `users`, and with foreign keys on, dropping it cascades into every table
    # that references it.
    op.drop_column("api_keys", "last_used_at")
    op.drop_column("api_keys", "name")
    op.drop_column("users", "disabled_at")
