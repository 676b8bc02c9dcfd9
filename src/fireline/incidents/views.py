"""REST API v2 for services, incidents, notes, log entries and priorities."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["incidents"])
