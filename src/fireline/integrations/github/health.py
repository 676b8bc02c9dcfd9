"""Verification: `GET /user` — who the token acts for. A revoked or expired token answers 401
("Bad credentials"), which the HTTP client raises as `CredentialError`."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.github import client


async def verify(ctx: ToolContext) -> str:
    user = (await client.get(ctx, "/user")).json()
    return f"Connected to GitHub as {user.get('login', '?')}"
