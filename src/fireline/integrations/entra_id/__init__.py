from __future__ import annotations

from fireline.integrations.base import Destination, Integration, OAuthSecrets
from fireline.integrations.entra_id import actions, health, oauth
from fireline.integrations.entra_id.schema import EntraIdConfig


def _destination(config: EntraIdConfig) -> Destination:
    # NET-6: Graph for the API, the identity platform for the token endpoint.
    return Destination(hosts=("graph.microsoft.com", "login.microsoftonline.com"))


INTEGRATION = Integration(
    slug="entra_id",
    title="Microsoft Entra ID (Azure AD)",
    description="Look up users and group members in Microsoft Entra ID.",
    config=EntraIdConfig,
    secrets=OAuthSecrets,
    destination=_destination,
    verify=health.verify,
    auth="oauth",
    actions=(actions.GET_USER, actions.LIST_GROUP_MEMBERS),
    oauth=oauth.PROVIDER,
)
