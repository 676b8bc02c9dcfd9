from __future__ import annotations

from fireline.integrations.base import Destination, Integration, host_of, port_of
from fireline.integrations.dynatrace import actions, health
from fireline.integrations.dynatrace.client import TOKEN_URL
from fireline.integrations.dynatrace.schema import DynatraceConfig, DynatraceSecrets


def _destination(config: DynatraceConfig) -> Destination:
    # NET-6: the SSO token endpoint, and the environment's Grail host (SaaS platform APIs are
    # on {environment-id}.apps.dynatrace.com; Managed uses the ActiveGate host and port).
    platform = config.platform_url
    ports = tuple(sorted({443, port_of(platform)}))
    return Destination(hosts=(host_of(TOKEN_URL), host_of(platform)), ports=ports)


INTEGRATION = Integration(
    slug="dynatrace",
    title="Dynatrace",
    description="Search Dynatrace Grail logs with DQL, authenticated with an OAuth2 client.",
    config=DynatraceConfig,
    secrets=DynatraceSecrets,
    destination=_destination,
    verify=health.verify,
    verify_blocks_save=True,
    credential_fields=("environment_type", "environment_url"),
    actions=(actions.SEARCH_LOGS,),
)
