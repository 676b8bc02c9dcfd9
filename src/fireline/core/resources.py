"""PagerDuty REST v2 resource conventions: `type`, `summary`, `self`, `html_url`, references."""

from __future__ import annotations

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


def api_url(base_url: str, kind: str, id_: str) -> str:
    return f"{base_url}/api/{_COLLECTIONS[kind]}/{id_}"


def html_url(base_url: str, kind: str, id_: str) -> str:
    return f"{base_url}/{_COLLECTIONS[kind]}/{id_}"


def reference(base_url: str, kind: str, id_: str, summary: str) -> dict[str, Any]:
    """`{kind}_reference`, as PagerDuty embeds one resource in another."""
    return {
        "id": id_,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": api_url(base_url, kind, id_),
        "html_url": html_url(base_url, kind, id_),
    }


def resource(base_url: str, kind: str, id_: str, summary: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "type": kind,
        "summary": summary,
        "self": api_url(base_url, kind, id_),
        "html_url": html_url(base_url, kind, id_),
        **fields,
    }
