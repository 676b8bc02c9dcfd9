from __future__ import annotations

from fireline.integrations.base import Destination, Integration
from fireline.integrations.new_relic import actions, health
from fireline.integrations.new_relic.schema import REGION_HOSTS, NewRelicConfig, NewRelicSecrets


def _destination(config: NewRelicConfig) -> Destination:
    return Destination(hosts=(REGION_HOSTS[config.region],))  # NET-6: US or EU only


INTEGRATION = Integration(
    slug="new_relic",
    title="New Relic",
    description="Run NRQL queries against a New Relic account through NerdGraph.",
    config=NewRelicConfig,
    secrets=NewRelicSecrets,
    destination=_destination,
    verify=health.verify,
    credential_fields=("region",),
    actions=(actions.RUN_NRQL,),
)
