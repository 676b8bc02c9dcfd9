"""The explicit list of integrations. A contract test proves every package under
`fireline.integrations` is listed here and keeps the shared rules."""

from __future__ import annotations

from fireline.integrations import elasticsearch
from fireline.integrations.base import Integration

INTEGRATIONS: tuple[Integration, ...] = (elasticsearch.INTEGRATION,)

_BY_SLUG = {integration.slug: integration for integration in INTEGRATIONS}


def get(slug: str) -> Integration | None:
    return _BY_SLUG.get(slug)
