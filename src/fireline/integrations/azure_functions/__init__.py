from __future__ import annotations

from fireline.integrations.azure_functions import actions, health
from fireline.integrations.azure_functions.schema import (
    AzureFunctionsConfig,
    AzureFunctionsSecrets,
)
from fireline.integrations.base import Destination, Integration, host_of


def _destination(config: AzureFunctionsConfig) -> Destination:
    return Destination(hosts=(host_of(config.url),))


INTEGRATION = Integration(
    slug="azure_functions",
    title="Azure Functions",
    description="Invoke an HTTP-triggered Azure Function with its function key.",
    config=AzureFunctionsConfig,
    secrets=AzureFunctionsSecrets,
    destination=_destination,
    verify=health.verify,
    credential_fields=("url",),
    actions=(actions.INVOKE_FUNCTION,),
)
