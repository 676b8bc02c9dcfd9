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
    description=(
        "As a bot: create, archive and list incident channels, set their topic and bookmarks, "
        "and post messages to channels and people."
    ),
    config=SlackConfig,
    secrets=OAuthSecrets,
    destination=_destination,
    verify=health.verify,
    auth="oauth",
    actions=(
        actions.POST_MESSAGE,
        actions.LIST_CHANNELS,
        actions.CREATE_INCIDENT_CHANNEL,
        actions.ARCHIVE_CHANNEL,
        actions.SEND_DIRECT_MESSAGE,
        actions.SET_CHANNEL_TOPIC,
        actions.ADD_BOOKMARK,
    ),
    oauth=oauth.PROVIDER,
)
