"""Verification: `GET /v1/account-management/whoami` — read-only; returns the name of the
account the API token belongs to."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.logzio import client
from fireline.integrations.logzio.schema import LogzioConfig


async def verify(ctx: ToolContext) -> str:
    answer = await client.whoami(ctx)
    config: LogzioConfig = ctx.config
    return f"Connected to Logz.io account {answer.get('accountName', 'unknown')} ({config.region})"
