"""The explicit list of integrations. A contract test proves every package under
`fireline.integrations` is listed here and keeps the shared rules."""

from __future__ import annotations

from fireline.integrations import (
    confluence,
    elasticsearch,
    entra_id,
    github,
    jeli,
    linear,
    pagerduty_rba,
    servicenow,
    slack,
)
from fireline.integrations.base import Integration

INTEGRATIONS: tuple[Integration, ...] = (
    confluence.INTEGRATION,
    elasticsearch.INTEGRATION,
    github.INTEGRATION,
    jeli.INTEGRATION,
    linear.INTEGRATION,
    entra_id.INTEGRATION,
    pagerduty_rba.INTEGRATION,
    servicenow.INTEGRATION,
    slack.INTEGRATION,
)

_BY_SLUG = {integration.slug: integration for integration in INTEGRATIONS}


def get(slug: str) -> Integration | None:
    return _BY_SLUG.get(slug)
