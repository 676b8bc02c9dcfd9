from __future__ import annotations

from fireline.integrations.base import Destination, Integration
from fireline.integrations.logzio import actions, health
from fireline.integrations.logzio.schema import REGION_HOSTS, LogzioConfig, LogzioSecrets


def _destination(config: LogzioConfig) -> Destination:
    return Destination(hosts=(REGION_HOSTS[config.region],))  # NET-6: a closed set of regions


INTEGRATION = Integration(
    slug="logzio",
    title="Logz.io",
    description="Search Logz.io logs with Lucene or Elasticsearch Query DSL.",
    config=LogzioConfig,
    secrets=LogzioSecrets,
    destination=_destination,
    verify=health.verify,
    credential_fields=("region",),
    actions=(actions.SEARCH_LOGS,),
)
