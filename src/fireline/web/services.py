"""Pages of the services domain (see DESIGN.md, the web app)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
