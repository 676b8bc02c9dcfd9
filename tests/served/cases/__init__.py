"""What the served layer drives for each tool: one `ToolCase` per tool, in its own module.

The list is explicit (STYLE: no discovery by naming convention); `test_tools` checks that it
covers every tool whose connection is a form (API keys, tokens); the OAuth tools and AWS
have modules of their own (`test_oauth_tools`, `test_aws`).
"""

from __future__ import annotations

from tests.served.cases import (
    azure_functions,
    datadog,
    dynatrace,
    elasticsearch,
    grafana,
    jeli,
    linear,
    logzio,
    new_relic,
    pagerduty_rba,
    servicenow,
    splunk,
    sumo_logic,
    web_api,
)
from tests.served.cases.base import ToolCase

CASES: tuple[ToolCase, ...] = (
    azure_functions.CASE,
    datadog.CASE,
    dynatrace.CASE,
    elasticsearch.CASE,
    grafana.CASE,
    jeli.CASE,
    linear.CASE,
    logzio.CASE,
    new_relic.CASE,
    pagerduty_rba.CASE,
    servicenow.CASE,
    splunk.CASE,
    sumo_logic.CASE,
    web_api.CASE,
)
