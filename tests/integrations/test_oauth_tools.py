"""Rules every OAuth tool package keeps (Slack, GitHub, Confluence, Microsoft Entra ID)."""

from __future__ import annotations

import pytest

from fireline.integrations import confluence, entra_id, github, slack
from fireline.integrations.base import Integration, OAuthSecrets, host_of

OAUTH_TOOLS = [slack.INTEGRATION, github.INTEGRATION, confluence.INTEGRATION, entra_id.INTEGRATION]


@pytest.mark.parametrize("tool", OAUTH_TOOLS, ids=lambda tool: tool.slug)
def test_net6_oauth_endpoints_are_inside_the_pinned_destination(tool: Integration) -> None:
    # The refresh token goes to the token endpoint: it must be a pinned host too.
    assert tool.oauth is not None
    hosts = tool.destination(tool.config()).hosts
    for url in (tool.oauth.authorize_url, tool.oauth.token_url):
        assert url.startswith("https://") and host_of(url) in hosts


@pytest.mark.parametrize("tool", OAUTH_TOOLS, ids=lambda tool: tool.slug)
def test_a_connection_exists_before_the_callback(tool: Integration) -> None:
    # The product text asks only for a Connection Name: every config field is optional.
    assert all(value is None for value in tool.config().model_dump().values())
    assert tool.auth == "oauth" and tool.secrets is OAuthSecrets
    assert tool.oauth is not None and tool.oauth.parse_tokens is not None
    assert tool.verify_blocks_save is False and tool.credential_fields == ()


@pytest.mark.parametrize("tool", OAUTH_TOOLS, ids=lambda tool: tool.slug)
def test_wf5_creating_actions_are_declared_non_idempotent(tool: Integration) -> None:
    creating = {
        "post_message",
        "create_issue",
        # Slack: every write, even those a retry cannot repeat (WF-5 look-ups, "already").
        "create_incident_channel",
        "archive_channel",
        "send_direct_message",
        "set_channel_topic",
        "add_bookmark",
    }
    assert tool.actions
    for action in tool.actions:
        assert action.idempotent is (action.name not in creating)
        assert action.input.model_config.get("extra") == "forbid"
