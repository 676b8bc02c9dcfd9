from __future__ import annotations

from fireline.integrations.base import Destination, Integration, OAuthSecrets
from fireline.integrations.slack import actions, health, oauth
from fireline.integrations.slack.schema import SlackConfig


def _destination(config: SlackConfig) -> Destination:
    # NET-6: the Web API and the OAuth token endpoint are both on slack.com.
    return Destination(hosts=("slack.com",))


INTEGRATION = Integration(
    slug="slack",
    title="Slack Bot Integration",
    description="Post messages to Slack channels and list channels as a bot.",
    config=SlackConfig,
    secrets=OAuthSecrets,
    destination=_destination,
    verify=health.verify,
    auth="oauth",
    actions=(actions.POST_MESSAGE, actions.LIST_CHANNELS),
    oauth=oauth.PROVIDER,
)
