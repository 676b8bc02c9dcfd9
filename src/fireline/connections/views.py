"""REST API for Workflow Integrations and their connections (PagerDuty's paths and shapes)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api", tags=["workflow integrations"])
