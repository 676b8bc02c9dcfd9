from __future__ import annotations

from fireline.integrations.base import Destination, Integration, host_of, port_of
from fireline.integrations.grafana import actions, health
from fireline.integrations.grafana.schema import GrafanaConfig, GrafanaSecrets


def _destination(config: GrafanaConfig) -> Destination:
    return Destination(hosts=(host_of(config.url),), ports=(port_of(config.url),))


INTEGRATION = Integration(
    slug="grafana",
    title="Grafana",
    description="List firing Grafana alerts and query Loki logs with a service account token.",
    config=GrafanaConfig,
    secrets=GrafanaSecrets,
    destination=_destination,
    verify=health.verify,
    credential_fields=("url",),
    actions=(actions.LIST_FIRING_ALERTS, actions.QUERY_LOKI),
)
