"""The explicit list of integrations. A contract test proves every package under
`fireline.integrations` is listed here and keeps the shared rules."""

from __future__ import annotations

from fireline.integrations import (
    aws,
    azure_functions,
    confluence,
    datadog,
    dynatrace,
    elasticsearch,
    entra_id,
    github,
    grafana,
    jeli,
    linear,
    logzio,
    new_relic,
    pagerduty_rba,
    servicenow,
    slack,
    splunk,
    sumo_logic,
    web_api,
)
from fireline.integrations.base import Integration

# The 19 tools of reference/workflow-integrations.txt, in its order.
INTEGRATIONS: tuple[Integration, ...] = (
    aws.INTEGRATION,
    azure_functions.INTEGRATION,
    confluence.INTEGRATION,
    datadog.INTEGRATION,
    dynatrace.INTEGRATION,
    elasticsearch.INTEGRATION,
    github.INTEGRATION,
    grafana.INTEGRATION,
    jeli.INTEGRATION,
    linear.INTEGRATION,
    logzio.INTEGRATION,
    entra_id.INTEGRATION,
    new_relic.INTEGRATION,
    pagerduty_rba.INTEGRATION,
    servicenow.INTEGRATION,
    slack.INTEGRATION,
    sumo_logic.INTEGRATION,
    splunk.INTEGRATION,
    web_api.INTEGRATION,
)

_BY_SLUG = {integration.slug: integration for integration in INTEGRATIONS}


def get(slug: str) -> Integration | None:
    return _BY_SLUG.get(slug)
