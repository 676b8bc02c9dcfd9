"""Workflows, their immutable versions, runs and run steps.

Invariants the schema enforces:
- a version's definition never changes; a run keeps the version it started with;
- one outbox event starts at most one run per workflow (WF-2): a unique constraint over
  (workflow_id, trigger_event_id) — manual runs have no event, and NULLs never collide;
- a step exists once per run: (run_id, step_id) is the primary key, and its idempotency key
  is `run_id:step_id` (WF-5), stable across attempts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from fireline.core.clock import utcnow
from fireline.core.db import Base, UTCDateTime
from fireline.core.ids import new_id

RUN_TERMINAL = ("succeeded", "failed", "cancelled", "needs_attention")
# Steps: `waiting` for their `needs`, `ready` to be claimed (at `next_attempt_at`), `running`
# under a lease, then terminal.
# `not_taken`: the step is in a condition's branch that did not run (it counts as done).
STEP_TERMINAL = ("succeeded", "failed", "cancelled", "skipped", "needs_attention", "not_taken")
DONE = ("succeeded", "not_taken")


class Workflow(Base):
    __tablename__ = "workflows"

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON)
    # "everyone" or "teams" (members of `run_team_ids` may start it by hand).
    run_permission: Mapped[str] = mapped_column(String(10), default="everyone")
    run_team_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # ACL-3: the last editor's right to select each connection is checked again at run time.
    updated_by_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkflowVersion(Base):
    __tablename__ = "workflow_versions"

    workflow_id: Mapped[str] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Run(Base):
    __tablename__ = "workflow_runs"
    __table_args__ = (UniqueConstraint("workflow_id", "trigger_event_id"),)

    id: Mapped[str] = mapped_column(String(20), primary_key=True, default=new_id)
    workflow_id: Mapped[str] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    incident_id: Mapped[str] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), default="queued")
    trigger_event_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    started_by_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class RunStep(Base):
    __tablename__ = "workflow_run_steps"
    __table_args__ = (Index("ix_workflow_run_steps_status_due", "status", "next_attempt_at"),)

    run_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_runs.id", ondelete="CASCADE"), primary_key=True
    )
    step_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default="waiting")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    # A `loop_until` body's pass (0: the first, and every step outside loops).
    iteration: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # WF-9: rendered once, at the first attempt; every retry sees the same inputs.
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    output: Mapped[Any] = mapped_column(JSON, nullable=True, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    connection_id: Mapped[str | None] = mapped_column(String(20), default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(80), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    duration_ms: Mapped[int | None] = mapped_column(Integer, default=None)
