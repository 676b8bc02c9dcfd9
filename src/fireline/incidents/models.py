"""Incidents platform tables (services, incidents, notes, log entries, outbox)."""

from __future__ import annotations
