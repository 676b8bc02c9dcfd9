"""Verification: the NerdGraph query `{ actor { user { email } account(id: N) { name } } }` —
read-only; it proves the User API key is valid and can read the configured account."""

from __future__ import annotations

from fireline.integrations.base import ToolContext
from fireline.integrations.new_relic import client
from fireline.integrations.new_relic.schema import NewRelicConfig

QUERY = """
query Verify($accountId: Int!) {
  actor {
    user { email }
    account(id: $accountId) { name }
  }
}
"""


async def verify(ctx: ToolContext) -> str:
    config: NewRelicConfig = ctx.config
    data = await client.graphql(ctx, QUERY, {"accountId": config.account_id})
    account = client.account_of(data, config.account_id)
    user = ((data.get("actor") or {}).get("user") or {}).get("email", "an unknown user")
    return f"Connected as {user} to account {account.get('name')} ({config.region})"
