"""New Relic: Run NRQL — `actor.account(id).nrql(query)` through NerdGraph, returning the
result rows."""

from __future__ import annotations

from fireline.integrations.base import Action, ToolContext
from fireline.integrations.new_relic import client
from fireline.integrations.new_relic.schema import NewRelicConfig, RunNrqlInput, RunNrqlOutput

QUERY = """
query RunNrql($accountId: Int!, $nrql: Nrql!, $timeout: Seconds) {
  actor {
    account(id: $accountId) {
      nrql(query: $nrql, timeout: $timeout) { results }
    }
  }
}
"""


async def run_nrql(ctx: ToolContext, data: RunNrqlInput) -> RunNrqlOutput:
    config: NewRelicConfig = ctx.config
    answer = await client.graphql(
        ctx,
        QUERY,
        {"accountId": config.account_id, "nrql": data.query, "timeout": data.timeout_seconds},
    )
    account = client.account_of(answer, config.account_id)
    results = (account.get("nrql") or {}).get("results") or []
    return RunNrqlOutput(results=results, count=len(results))


RUN_NRQL = Action(
    name="run_nrql",
    title="Run NRQL",
    input=RunNrqlInput,
    output=RunNrqlOutput,
    idempotent=True,
    run=run_nrql,
)
