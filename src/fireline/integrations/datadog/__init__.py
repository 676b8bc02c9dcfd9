from __future__ import annotations

from fireline.integrations.base import Destination, Integration
from fireline.integrations.datadog import actions, health
from fireline.integrations.datadog.schema import SITE_HOSTS, DatadogConfig, DatadogSecrets


def _destination(config: DatadogConfig) -> Destination:
    return Destination(hosts=(SITE_HOSTS[config.site],))  # NET-6: a closed set of sites


INTEGRATION = Integration(
    slug="datadog",
    title="Datadog",
    description="Search Datadog logs, query metrics, read monitors and take graph snapshots "
    "with an API key and application key.",
    config=DatadogConfig,
    secrets=DatadogSecrets,
    destination=_destination,
    verify=health.verify,
    credential_fields=("site",),
    actions=(
        actions.SEARCH_LOGS,
        actions.QUERY_METRICS,
        actions.GET_MONITOR,
        actions.GET_ALERTING_MONITORS,
        actions.CREATE_GRAPH_SNAPSHOT,
    ),
)
