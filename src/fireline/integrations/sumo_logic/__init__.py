from __future__ import annotations

from fireline.integrations.base import Destination, Integration
from fireline.integrations.sumo_logic import actions, health
from fireline.integrations.sumo_logic.schema import (
    DEPLOYMENT_HOSTS,
    SumoLogicConfig,
    SumoLogicSecrets,
)


def _destination(config: SumoLogicConfig) -> Destination:
    return Destination(hosts=(DEPLOYMENT_HOSTS[config.deployment],))  # NET-6: closed set


INTEGRATION = Integration(
    slug="sumo_logic",
    title="Sumo Logic",
    description="Search Sumo Logic logs through the Search Job API with an access ID and key.",
    config=SumoLogicConfig,
    secrets=SumoLogicSecrets,
    destination=_destination,
    verify=health.verify,
    credential_fields=("deployment",),
    actions=(actions.SEARCH_LOGS,),
)
