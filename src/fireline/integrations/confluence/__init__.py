from __future__ import annotations

from fireline.integrations.base import Destination, Integration, OAuthSecrets
from fireline.integrations.confluence import actions, health, oauth
from fireline.integrations.confluence.schema import ConfluenceConfig


def _destination(config: ConfluenceConfig) -> Destination:
    # NET-6: 3LO tokens are only accepted by the API gateway; the token endpoint is on
    # auth.atlassian.com. The site's own *.atlassian.net host never sees a credential.
    return Destination(hosts=("api.atlassian.com", "auth.atlassian.com"))


INTEGRATION = Integration(
    slug="confluence",
    title="Confluence",
    description="Search Confluence pages with CQL and read a page.",
    config=ConfluenceConfig,
    secrets=OAuthSecrets,
    destination=_destination,
    verify=health.verify,
    auth="oauth",
    actions=(actions.SEARCH_PAGES, actions.GET_PAGE),
    oauth=oauth.PROVIDER,
)
