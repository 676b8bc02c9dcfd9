"""The workflow pages in-process: "Run a workflow" on an incident lists the manual workflows
this user may start and starts one; the run's page shows each step with its inputs and output
(scrubbed of secrets), polls while the run goes on and stops when it ends; a running run is
cancelled from its page; the list shows each workflow's last run. The browser layer
(tests/served) drives the same pages in Chromium."""

from __future__ import annotations

from typing import Any

import httpx

from fireline.core.db import Database
from fireline.core.redaction import registry as secrets_registry
from fireline.workflows.engine import Engine
from tests.conftest import Actor
from tests.incidents.helpers import create_incident, create_service
from tests.web.helpers import HTML, HTMX, signed_in


async def _workflow(client: httpx.AsyncClient, actor: Actor, name: str,
                    steps: list[dict[str, Any]], **fields: Any) -> str:
    saved = await client.post("/api/incident_workflows", headers=actor.headers, json={
        "incident_workflow": {"name": name, "trigger": {"type": "manual"}, "steps": steps,
                              **fields}})
    assert saved.status_code == 201, saved.text
    return str(saved.json()["incident_workflow"]["id"])


async def _incident(client: httpx.AsyncClient, actor: Actor, title: str) -> str:
    service = await create_service(client, actor, name=f"svc {title}")
    made = await create_incident(client, actor, service["id"], title=title)
    assert made.status_code == 201, made.text
    return str(made.json()["incident"]["id"])


async def test_run_a_workflow_from_an_incident_and_watch_its_run_page(
    client: httpx.AsyncClient, app: Any, db: Database, make_actor,  # type: ignore[no-untyped-def]
) -> None:
    admin, csrf = await signed_in(client, make_actor)
    secret = "sk-page-canary-5d1e"
    secrets_registry.register(secret)
    workflow_id = await _workflow(client, admin, "Note it", [
        {"id": "note", "action": "fireline.add_note",
         "with": {"content": f"Looked at {{{{ incident.title }}}} with {secret}"}}])
    await _workflow(client, admin, "Switched off", [{"id": "n", "action": "fireline.noop"}],
                    enabled=False)
    await _workflow(client, admin, "On its own",  [{"id": "n", "action": "fireline.noop"}],
                    trigger={"type": "conditional", "on": ["incident.triggered"]})
    incident_id = await _incident(client, admin, "Checkout is down")

    offered = await client.get(f"/incidents/{incident_id}/run_workflow", headers=HTMX)
    assert offered.status_code == 200, offered.text
    assert "Note it" in offered.text
    assert "Switched off" not in offered.text and "On its own" not in offered.text
    assert "<html" not in offered.text  # the modal's body only

    started = await client.post(f"/incident_workflows/{workflow_id}/instances",
                                data={"csrf_token": csrf, "incident_id": incident_id})
    assert started.status_code == 303, started.text
    run_url = started.headers["location"]
    assert run_url.startswith("/incident_workflow_runs/")

    queued = await client.get(run_url, headers=HTML)
    assert queued.status_code == 200
    assert "Started “Note it”" in queued.text
    assert 'hx-trigger="every 2s"' in queued.text and "Cancel run" in queued.text

    await Engine(db=db, tools=app.state.tools).drain()
    done = await client.get(run_url, headers=HTMX)
    assert done.status_code == 200
    assert "<html" not in done.text and "hx-trigger" not in done.text  # polling ends
    assert "succeeded" in done.text and "Cancel run" not in done.text
    assert "Looked at Checkout is down with" in done.text  # the rendered inputs
    assert secret not in done.text

    listed = await client.get("/incident_workflows", headers=HTML)
    assert run_url in listed.text  # the last run, linked
    history = await client.get(f"/incident_workflows/{workflow_id}/runs", headers=HTML)
    assert run_url in history.text


async def test_a_running_run_is_cancelled_from_its_page(
    client: httpx.AsyncClient, make_actor,  # type: ignore[no-untyped-def]
) -> None:
    admin, csrf = await signed_in(client, make_actor)
    workflow_id = await _workflow(client, admin, "Slow", [{"id": "n", "action": "fireline.noop"}])
    incident_id = await _incident(client, admin, "Queue backs up")
    started = await client.post(f"/incident_workflows/{workflow_id}/instances",
                                data={"csrf_token": csrf, "incident_id": incident_id})
    run_url = started.headers["location"]
    cancelled = await client.post(f"{run_url}/cancel", data={"csrf_token": csrf})
    assert cancelled.status_code == 303, cancelled.text
    page = await client.get(run_url, headers=HTML)
    assert "Run cancelled" in page.text and "cancelled" in page.text
    assert "Cancel run" not in page.text


async def test_an_observer_is_offered_nothing_and_may_not_start_or_cancel(
    client: httpx.AsyncClient, make_actor,  # type: ignore[no-untyped-def]
) -> None:
    admin: Actor = await make_actor("admin")
    workflow_id = await _workflow(client, admin, "Note", [{"id": "n", "action": "fireline.noop"}])
    incident_id = await _incident(client, admin, "Latency")
    _, csrf = await signed_in(client, make_actor, role="observer")
    assert (await client.get(f"/incidents/{incident_id}/run_workflow",
                             headers=HTML)).status_code == 403
    refused = await client.post(f"/incident_workflows/{workflow_id}/instances",
                                data={"csrf_token": csrf, "incident_id": incident_id},
                                headers=HTML)
    assert refused.status_code == 403


async def test_a_workflow_with_blocks_shows_each_nested_step_and_is_edited_as_yaml(
    client: httpx.AsyncClient, make_actor,  # type: ignore[no-untyped-def]
) -> None:
    admin, _ = await signed_in(client, make_actor)
    workflow_id = await _workflow(client, admin, "Blocks", [
        {"id": "check", "action": "fireline.condition",
         "with": {"expression": "incident.urgency == 'high'"},
         "then": [{"id": "loud", "action": "fireline.add_note", "with": {"content": "high"}}],
         "else": [{"id": "quiet", "action": "fireline.noop"}]},
        {"id": "after", "action": "fireline.noop"}])
    page = await client.get(f"/incident_workflows/{workflow_id}", headers=HTML)
    assert page.status_code == 200, page.text
    assert 'id="step-loud"' in page.text and "in check: then" in page.text
    assert 'id="step-quiet"' in page.text and "in check: else" in page.text

    # The form editor keeps a flat list: it sends a workflow with blocks to its YAML view.
    edit = await client.get(f"/incident_workflows/{workflow_id}/edit", headers=HTML)
    assert edit.status_code == 303
    assert edit.headers["location"] == f"/incident_workflows/{workflow_id}/yaml"
    yaml_page = await client.get(edit.headers["location"], headers=HTML)
    assert "edit it as YAML" in yaml_page.text
    assert "then:" in yaml_page.text and "else:" in yaml_page.text
