"""Workflow Integration connections, their health history and the audit log."""

from __future__ import annotations
