from __future__ import annotations

from fireline.integrations.base import Destination, Integration
from fireline.integrations.jeli import actions, health
from fireline.integrations.jeli.client import API_HOST
from fireline.integrations.jeli.schema import JeliConfig, JeliSecrets


def _destination(config: JeliConfig) -> Destination:
    return Destination(hosts=(API_HOST,))


INTEGRATION = Integration(
    slug="jeli",
    title="Jeli",
    description="Open and list incidents, and open post-incident reviews, in Jeli (part of "
    "PagerDuty).",
    config=JeliConfig,
    secrets=JeliSecrets,
    destination=_destination,
    verify=health.verify,
    actions=(
        actions.CREATE_INCIDENT,
        actions.LIST_INCIDENTS,
        actions.CREATE_POST_INCIDENT_REVIEW,
    ),
)
