"""PagerDuty REST v2 resource conventions: `type`, `summary`, `self`, `html_url`, references."""

from __future__ import annotations

import functools
from typing import Any

# PagerDuty's API path segment for each resource type.
_COLLECTIONS = {
    "user": "users",
    "team": "teams",
    "service": "services",
    "incident": "incidents",
    "log_entry": "log_entries",
    "priority": "priorities",
    "escalation_policy": "escalation_policies",
    "incident_workflow": "incident_workflows",
}


@functools.cache
def _prefixes(base_url: str, kind: str) -> tuple[str, str]:
    # Bodies embed many references; their URL prefixes are the same for every id.
    collection = _COLLECTIONS[kind]
    return f"{base_url}/api/{collection}/", f"{base_url}/{collection}/"


def api_url(base_url: str, kind: str, id_: str) -> str:
    return _prefixes(base_url, kind)[0] + id_


def html_url(base_url: str, kind: str, id_: str) -> str:
    return _prefixes(base_url, kind)[1] + id_


def resource_urls(base_url: str, kind: str, id_: str) -> tuple[str, str]:
    """(`self`, `html_url`) of a resource."""
    api, html = _prefixes(base_url, kind)
    return api + id_, html + id_


def reference(base_url: str, kind: str, id_: str, summary: str) -> dict[str, Any]:
    """`{kind}_reference`, as PagerDuty embeds one resource in another."""
    api, html = resource_urls(base_url, kind, id_)
    return {"id": id_, "type": f"{kind}_reference", "summary": summary, "self": api,
            "html_url": html}


def resource(base_url: str, kind: str, id_: str, summary: str, **fields: Any) -> dict[str, Any]:
    api, html = resource_urls(base_url, kind, id_)
    return {"id": id_, "type": kind, "summary": summary, "self": api, "html_url": html,
            **fields}
