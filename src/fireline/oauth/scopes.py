"""OAuth scopes, what each means in plain words, and the one table that maps routes to them.

The classic pair is PagerDuty's Classic User OAuth: `read` (every GET) and `write` (read and
write on all resources). The scoped names are those PagerDuty's REST schema annotates its
operations with (`x-pd-requires-scope`). A scope never widens what the user may do: routes
still apply the user's role and team rights, so a token's reach is scope ∩ user (OA-10).

`ROUTE_SCOPES` lists every REST route. The value is the scope the route needs; `""` means any
valid token (`GET /users/me`); `None` means no OAuth token may call it (managing OAuth apps
and authorizations is for people, through a session or an API key). A route missing from the
table is refused to tokens — and a test generated from the app's routes fails.
"""

from __future__ import annotations

from collections.abc import Iterable

READ = "read"
WRITE = "write"

SCOPE_DESCRIPTIONS: dict[str, str] = {
    READ: "See everything you can see: incidents, notes, log entries, services, users, "
          "teams, workflows and connections",
    WRITE: "See and change everything you can: create, acknowledge, resolve and update "
           "incidents, add notes, and manage services, workflows and connections",
    "incidents.read": "See incidents, their notes and their log entries",
    "incidents.write": "Create, acknowledge, resolve, reassign and update incidents, add "
                       "notes and request responders",
    "subscribers.read": "See who is subscribed to incidents' status updates",
    "subscribers.write": "Subscribe users and teams to incidents' status updates, and "
                         "unsubscribe them",
    "services.read": "See services and their integrations",
    "services.write": "Create services and add integrations to them",
    "users.read": "See users and their contact details",
    "users.write": "Remove users",
    "teams.read": "See teams and their members",
    "priorities.read": "See the incident priorities",
    "incident_workflows.read": "See incident workflows, their triggers and their runs",
    "incident_workflows.write": "Create, change and delete incident workflows",
    "incident_workflows:instances.write": "Start and cancel incident workflow runs",
    "workflow_integrations.read": "See the workflow integration catalog",
    "workflow_integrations:connections.read": "See workflow integration connections (never "
                                              "their credentials)",
    "workflow_integrations:connections.write": "Add, change, verify and delete workflow "
                                               "integration connections",
}

_INCIDENTS_R, _INCIDENTS_W = "incidents.read", "incidents.write"
_SERVICES_R, _SERVICES_W = "services.read", "services.write"
_WORKFLOWS_R, _WORKFLOWS_W = "incident_workflows.read", "incident_workflows.write"
_INSTANCES_W = "incident_workflows:instances.write"
_CONNECTIONS_R = "workflow_integrations:connections.read"
_CONNECTIONS_W = "workflow_integrations:connections.write"
_CONNECTION = "/api/workflows/integrations/{integration_id}/connections/{connection_id}"

ROUTE_SCOPES: dict[tuple[str, str], str | None] = {
    ("GET", "/api/users/me"): "",
    ("GET", "/api/users"): "users.read",
    ("GET", "/api/users/{user_id}"): "users.read",
    ("DELETE", "/api/users/{user_id}"): "users.write",
    ("GET", "/api/teams"): "teams.read",
    ("GET", "/api/teams/{team_id}"): "teams.read",
    ("POST", "/api/services"): _SERVICES_W,
    ("GET", "/api/services"): _SERVICES_R,
    ("GET", "/api/services/{service_id}"): _SERVICES_R,
    ("POST", "/api/services/{service_id}/integrations"): _SERVICES_W,
    ("GET", "/api/services/{service_id}/integrations/{integration_id}"): _SERVICES_R,
    ("GET", "/api/priorities"): "priorities.read",
    ("POST", "/api/incidents"): _INCIDENTS_W,
    ("GET", "/api/incidents"): _INCIDENTS_R,
    ("PUT", "/api/incidents"): _INCIDENTS_W,
    ("GET", "/api/incidents/{incident_id}"): _INCIDENTS_R,
    ("PUT", "/api/incidents/{incident_id}"): _INCIDENTS_W,
    ("POST", "/api/incidents/{incident_id}/notes"): _INCIDENTS_W,
    ("GET", "/api/incidents/{incident_id}/notes"): _INCIDENTS_R,
    ("POST", "/api/incidents/{incident_id}/responder_requests"): _INCIDENTS_W,
    ("POST", "/api/incidents/{incident_id}/status_updates"): _INCIDENTS_W,
    ("GET", "/api/incidents/{incident_id}/status_updates"): _INCIDENTS_R,
    ("GET", "/api/incidents/{incident_id}/status_updates/subscribers"): "subscribers.read",
    ("POST", "/api/incidents/{incident_id}/status_updates/subscribers"): "subscribers.write",
    ("POST", "/api/incidents/{incident_id}/status_updates/unsubscribe"): "subscribers.write",
    ("GET", "/api/log_entries"): _INCIDENTS_R,
    ("GET", "/api/incidents/{incident_id}/log_entries"): _INCIDENTS_R,
    ("GET", "/api/log_entries/{entry_id}"): _INCIDENTS_R,
    ("GET", "/api/workflows/integrations"): "workflow_integrations.read",
    ("GET", "/api/workflows/integrations/{integration_id}"): "workflow_integrations.read",
    ("GET", "/api/workflows/integrations/connections"): _CONNECTIONS_R,
    ("POST", "/api/workflows/integrations/aws/external_ids"): _CONNECTIONS_W,
    ("GET", "/api/workflows/integrations/{integration_id}/connections"): _CONNECTIONS_R,
    ("POST", "/api/workflows/integrations/{integration_id}/connections"): _CONNECTIONS_W,
    ("GET", _CONNECTION): _CONNECTIONS_R,
    ("PATCH", _CONNECTION): _CONNECTIONS_W,
    ("PUT", _CONNECTION): _CONNECTIONS_W,
    ("DELETE", _CONNECTION): _CONNECTIONS_W,
    ("POST", f"{_CONNECTION}/authorize"): _CONNECTIONS_W,
    ("POST", f"{_CONNECTION}/verify"): _CONNECTIONS_W,
    ("GET", f"{_CONNECTION}/health_checks"): _CONNECTIONS_R,
    ("GET", "/api/incident_workflows"): _WORKFLOWS_R,
    ("POST", "/api/incident_workflows"): _WORKFLOWS_W,
    ("GET", "/api/incident_workflows/triggers"): _WORKFLOWS_R,
    ("POST", "/api/incident_workflows/triggers"): _WORKFLOWS_W,
    ("GET", "/api/incident_workflows/triggers/{trigger_id}"): _WORKFLOWS_R,
    ("PUT", "/api/incident_workflows/triggers/{trigger_id}"): _WORKFLOWS_W,
    ("DELETE", "/api/incident_workflows/triggers/{trigger_id}"): _WORKFLOWS_W,
    ("POST", "/api/incident_workflows/triggers/{trigger_id}/services"): _WORKFLOWS_W,
    ("DELETE", "/api/incident_workflows/triggers/{trigger_id}/services/{service_id}"):
        _WORKFLOWS_W,
    ("GET", "/api/incident_workflows/actions"): _WORKFLOWS_R,
    ("GET", "/api/incident_workflows/actions/{action_id}"): _WORKFLOWS_R,
    ("GET", "/api/incident_workflows/{workflow_id}"): _WORKFLOWS_R,
    ("PUT", "/api/incident_workflows/{workflow_id}"): _WORKFLOWS_W,
    ("DELETE", "/api/incident_workflows/{workflow_id}"): _WORKFLOWS_W,
    ("POST", "/api/incident_workflows/{workflow_id}/instances"): _INSTANCES_W,
    ("GET", "/api/incident_workflows/{workflow_id}/runs"): _WORKFLOWS_R,
    ("GET", "/api/incident_workflow_runs/{run_id}"): _WORKFLOWS_R,
    ("POST", "/api/incident_workflow_runs/{run_id}/cancel"): _INSTANCES_W,
    ("GET", "/api/oauth_apps"): None,
    ("POST", "/api/oauth_apps"): None,
    ("GET", "/api/oauth_apps/{app_id}"): None,
    ("PATCH", "/api/oauth_apps/{app_id}"): None,
    ("DELETE", "/api/oauth_apps/{app_id}"): None,
    ("GET", "/api/oauth_authorizations"): None,
    ("DELETE", "/api/oauth_authorizations/{app_id}"): None,
}

SCOPED = frozenset(scope for scope in ROUTE_SCOPES.values() if scope)
KNOWN = frozenset({READ, WRITE, *SCOPE_DESCRIPTIONS})


def required_scope(method: str, path: str) -> str | None:
    """The scope a route needs, `""` for any token, None when tokens may not call it."""
    if method == "HEAD":
        method = "GET"
    return ROUTE_SCOPES.get((method, path))


def covers(granted: Iterable[str], required: str) -> bool:
    """Whether scopes granted to a token include `required`: `write` holds every scoped
    name, `read` every `.read` one, and `X.write` holds `X.read`."""
    held = set(granted)
    if required in held or WRITE in held:
        return True
    if required.endswith(".read"):
        return READ in held or f"{required.removesuffix('.read')}.write" in held
    return False


def describe(scopes: Iterable[str]) -> list[str]:
    return [SCOPE_DESCRIPTIONS.get(scope, scope) for scope in scopes]


def unknown(scopes: Iterable[str]) -> list[str]:
    return sorted(set(scopes) - KNOWN)
