from __future__ import annotations

from fireline.integrations.base import Destination, Integration
from fireline.integrations.linear import actions, health
from fireline.integrations.linear.client import API_HOST
from fireline.integrations.linear.schema import LinearConfig, LinearSecrets


def _destination(config: LinearConfig) -> Destination:
    return Destination(hosts=(API_HOST,))


INTEGRATION = Integration(
    slug="linear",
    title="Linear",
    description="Create, look up, search and comment on Linear issues through the GraphQL API.",
    config=LinearConfig,
    secrets=LinearSecrets,
    destination=_destination,
    verify=health.verify,
    actions=(
        actions.CREATE_ISSUE,
        actions.GET_ISSUE_ACTION,
        actions.SEARCH_ISSUES_ACTION,
        actions.COMMENT_ON_ISSUE,
    ),
)
