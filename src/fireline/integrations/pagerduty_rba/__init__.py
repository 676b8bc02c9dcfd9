from __future__ import annotations

from fireline.integrations.base import Destination, Integration
from fireline.integrations.pagerduty_rba import actions, client, health
from fireline.integrations.pagerduty_rba.schema import (
    RunbookAutomationConfig,
    RunbookAutomationSecrets,
)


def _destination(config: RunbookAutomationConfig) -> Destination:
    # NET-6: the account's own host under runbook.pagerduty.cloud, nothing else.
    return Destination(hosts=(client.host(config),))


INTEGRATION = Integration(
    slug="pagerduty_rba",
    title="PagerDuty Runbook Automation",
    description="Run Runbook Automation (Rundeck) jobs and follow their executions.",
    config=RunbookAutomationConfig,
    secrets=RunbookAutomationSecrets,
    destination=_destination,
    verify=health.verify,
    # SEC-3: a new subdomain is a new host for the token.
    credential_fields=("subdomain",),
    actions=(actions.RUN_JOB, actions.GET_EXECUTION),
)
