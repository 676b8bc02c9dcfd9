from __future__ import annotations

from fireline.integrations.base import Destination, Integration, host_of, port_of
from fireline.integrations.splunk import actions, health
from fireline.integrations.splunk.schema import SplunkConfig, SplunkSecrets


def _destination(config: SplunkConfig) -> Destination:
    return Destination(hosts=(host_of(config.url),), ports=(port_of(config.url),))


INTEGRATION = Integration(
    slug="splunk",
    title="Splunk",
    description="Run SPL searches against Splunk's REST API with a token or session key.",
    config=SplunkConfig,
    secrets=SplunkSecrets,
    destination=_destination,
    verify=health.verify,
    credential_fields=("url",),
    actions=(actions.SEARCH,),
)
