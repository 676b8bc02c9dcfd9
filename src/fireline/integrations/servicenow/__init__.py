from __future__ import annotations

from fireline.integrations.base import Destination, Integration, host_of, port_of
from fireline.integrations.servicenow import actions, health
from fireline.integrations.servicenow.schema import ServiceNowConfig, ServiceNowSecrets


def _destination(config: ServiceNowConfig) -> Destination:
    # NET-6: ServiceNow is the instance host, derived from the URL field.
    return Destination(hosts=(host_of(config.url),), ports=(port_of(config.url),))


INTEGRATION = Integration(
    slug="servicenow",
    title="ServiceNow",
    description="Retrieve runbooks from ServiceNow knowledge base articles and create "
    "incidents, authenticated by the OAuth password grant.",
    config=ServiceNowConfig,
    secrets=ServiceNowSecrets,
    destination=_destination,
    verify=health.verify,
    # Reference text: "If ServiceNow returns a non-success response, the connection cannot be
    # created."
    verify_blocks_save=True,
    credential_fields=("url",),
    actions=(actions.RETRIEVE_RUNBOOK, actions.CREATE_INCIDENT),
)
