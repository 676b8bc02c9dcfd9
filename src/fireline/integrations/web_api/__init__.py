from __future__ import annotations

from fireline.integrations.base import Destination, Integration
from fireline.integrations.web_api import actions, health
from fireline.integrations.web_api.schema import WebApiConfig, WebApiSecrets


def _destination(config: WebApiConfig) -> Destination:
    # Exact hosts and `*.suffix` wildcards, as the egress guard matches them (NET-1).
    return Destination(hosts=config.hostnames, ports=config.ports)


INTEGRATION = Integration(
    slug="web_api",
    title="Web API",
    description="Call any HTTPS API with stored authentication headers, sent only to the "
    "hostnames you allow.",
    config=WebApiConfig,
    secrets=WebApiSecrets,
    destination=_destination,
    verify=health.verify,
    credential_fields=("allowed_hostnames",),
    actions=(
        actions.HTTP_REQUEST,
        actions.SEND_GET_REQUEST,
        actions.SEND_HEAD_REQUEST,
        actions.SEND_POST_REQUEST,
        actions.SEND_PUT_REQUEST,
        actions.SEND_PATCH_REQUEST,
        actions.SEND_DELETE_REQUEST,
        actions.SEND_WEBHOOK_POST,
    ),
)
