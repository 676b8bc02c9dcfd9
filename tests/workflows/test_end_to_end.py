"""The acceptance path: an Events API trigger opens an incident, a conditional workflow
searches the (fake, TLS) Elasticsearch and writes what it found as a note on the incident."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from fireline.core.audit import AuditEvent
from fireline.core.db import Database
from fireline.incidents.models import OutboxEvent
from fireline.workflows.engine import Engine
from fireline.workflows.models import Run
from tests.conftest import Actor
from tests.incidents.helpers import create_integration, create_service, writer_headers
from tests.workflows.conftest import es_connection, run_detail, save_workflow

DEFINITION = {
    "name": "Attach error logs",
    "trigger": {"type": "conditional", "on": ["incident.triggered"],
                "condition": "incident.urgency == 'high' and 'payment' in incident.title"},
    "steps": [
        {"id": "logs", "action": "elasticsearch.search_logs", "connection": "default",
         "with": {"index_pattern": "logs-*", "query_type": "kql", "query": "level:error",
                  "size": 20}},
        {"id": "again", "action": "elasticsearch.search_logs",
         "with": {"index_pattern": "logs-*", "query_type": "lucene",
                  "query": "service:{{ steps.logs.output.hits[0]._source.service }}"}},
        {"id": "note", "action": "fireline.add_note",
         "with": {"content": "{{ steps.logs.output.total }} errors in the logs; "
                             "{{ steps.again.output.total }} from that service"}},
    ],
}


async def test_wf1_events_api_trigger_runs_workflow_and_notes_the_incident(
    client: httpx.AsyncClient, make_actor, db: Database, engine: Engine
) -> None:
    admin: Actor = await make_actor("admin")
    await es_connection(client, admin, is_default=True)
    saved = await save_workflow(client, admin, DEFINITION)
    assert saved.status_code == 201, saved.text
    service = await create_service(client, admin, name="Payments")
    key = (await create_integration(client, admin, service["id"]))["integration_key"]

    for summary in ("payment failures", "disk almost full"):  # only the first matches
        response = await client.post("/v2/enqueue", json={
            "routing_key": key, "event_action": "trigger",
            "payload": {"summary": summary, "source": "web-1", "severity": "critical"}})
        assert response.status_code == 202, response.text
    await engine.drain()

    async with db.session() as session:
        run_rows = list(await session.scalars(select(Run)))
        assert len(run_rows) == 1
        assert all(e.processed_at for e in await session.scalars(select(OutboxEvent)))
        audits = list(await session.scalars(
            select(AuditEvent).where(AuditEvent.action == "workflow.step.run")))
    assert [a.outcome for a in audits] == ["success", "success"]  # AUD-1
    run = await run_detail(client, admin, run_rows[0].id)
    assert run["status"] == "succeeded", run
    assert [s["status"] for s in run["steps"]] == ["succeeded"] * 3
    assert run["steps"][0]["output"]["total"] == 1
    assert run["steps"][1]["inputs"]["query"] == "service:checkout"
    assert run["steps"][0]["idempotency_key"] == f"{run['id']}:logs"

    incident_id = run["incident"]["id"]
    notes = (await client.get(f"/api/incidents/{incident_id}/notes",
                              headers=writer_headers(admin))).json()["notes"]
    assert [n["content"] for n in notes] == ["1 errors in the logs; 1 from that service"]
    entries = (await client.get(f"/api/incidents/{incident_id}/log_entries",
                                headers=admin.headers)).json()["log_entries"]
    types = [e["type"] for e in entries]
    assert types.count("workflow_step_log_entry") == 3
    assert "workflow_run_log_entry" in types
    # The note the workflow added is an incident.note_added event, but it never re-triggers
    # this workflow; a second drain finds nothing more to do.
    assert await engine.drain() == 0


async def test_deleting_a_connection_in_use_names_the_workflows(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    connection = await es_connection(client, admin, is_default=True)
    assert (await save_workflow(client, admin, DEFINITION)).status_code == 201
    url = f"/api/workflows/integrations/elasticsearch/connections/{connection['id']}"
    refused = await client.delete(url, headers=admin.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["errors"] == ["workflow: Attach error logs"]
    forced = await client.delete(url, params={"force": "true"}, headers=admin.headers)
    assert forced.status_code == 204
