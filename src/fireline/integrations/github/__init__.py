from __future__ import annotations

from fireline.integrations.base import Destination, Integration, OAuthSecrets
from fireline.integrations.github import actions, health, oauth
from fireline.integrations.github.schema import GitHubConfig


def _destination(config: GitHubConfig) -> Destination:
    # NET-6: the REST API, and github.com for the token endpoint (code and refresh token).
    return Destination(hosts=("api.github.com", "github.com"))


INTEGRATION = Integration(
    slug="github",
    title="GitHub",
    description=(
        "Read recent commits and deployments, and open issues, in the organizations you connect."
    ),
    config=GitHubConfig,
    secrets=OAuthSecrets,
    destination=_destination,
    verify=health.verify,
    auth="oauth",
    actions=(actions.RECENT_COMMITS, actions.CREATE_ISSUE, actions.LIST_DEPLOYMENTS),
    oauth=oauth.PROVIDER,
)
