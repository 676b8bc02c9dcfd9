"""Issue 14 in `fireline serve`: a trigger set through PagerDuty's triggers resource, "when
conditions are met" in PagerDuty Condition Language, fires once per false → true transition
of an incident changed over HTTP, and its run sends a status update to a stakeholder and
adds a conference bridge."""

from __future__ import annotations

from typing import Any

from tests.served.harness import Served, wait_until


def test_a_conditions_met_trigger_runs_the_communication_steps(served: Served) -> None:
    http = served.http
    workflow_id = served.save_workflow({"name": "P1 comms", "steps": [
        {"id": "stakeholder", "action": "fireline.add_stakeholders",
         "with": {"users": [served.owner_email]}},
        {"id": "bridge", "action": "fireline.add_conference_bridge",
         "with": {"conference_url": "https://meet.example.com/p1-{{ incident.incident_number }}",
                  "conference_number": "+1 415-555-1212,,,,1234#"}},
        {"id": "update", "action": "fireline.send_status_update",
         "with": {"message": "{{ incident.title }} is a P1: bridge is open"}},
    ]})
    incident = served.incident("Checkout failing")
    url = f"/api/incidents/{incident['id']}"
    trigger = http.post("/api/incident_workflows/triggers", json={"trigger": {
        "trigger_type": "conditional", "workflow": {"id": workflow_id},
        "services": [{"id": incident["service"]["id"]}],
        "is_subscribed_to_all_services": False,
        "condition": "incident.priority matches 'p1'"}})
    assert trigger.status_code == 201, trigger.text
    priorities = {item["name"]: item["id"]
                  for item in http.get("/api/priorities").json()["priorities"]}

    def set_priority(name: str) -> None:
        changed = http.put(url, json={"incident": {
            "type": "incident_reference",
            "priority": {"id": priorities[name], "type": "priority_reference"}}})
        assert changed.status_code == 200, changed.text

    def runs(count: int) -> list[dict[str, Any]]:
        def found() -> list[dict[str, Any]] | None:
            listed = http.get(f"/api/incident_workflows/{workflow_id}/runs").json()
            items = listed["incident_workflow_runs"]
            ended = [run for run in items if run["status"] not in ("queued", "running")]
            return items if len(items) == count and len(ended) == count else None
        return wait_until(f"{count} ended runs", found)  # type: ignore[no-any-return]

    set_priority("P1")
    first = runs(1)
    assert first[0]["status"] == "succeeded", first
    updates = http.get(f"{url}/status_updates").json()["status_updates"]
    assert [item["message"] for item in updates] == ["Checkout failing is a P1: bridge is open"]
    bridge = http.get(url).json()["incident"]["conference_bridge"]
    assert bridge == {"conference_number": "+1 415-555-1212,,,,1234#",
                      "conference_url": f"https://meet.example.com/p1-"
                                        f"{incident['incident_number']}"}
    subscribers = http.get(f"{url}/status_updates/subscribers").json()["subscribers"]
    assert [item["subscriber_type"] for item in subscribers] == ["user"]

    # Still P1 after a note: no second run. P2 then P1 again: a second transition, one run.
    http.post(f"{url}/notes", json={"note": {"content": "mitigating"}})
    set_priority("P2")
    set_priority("P1")
    second = runs(2)
    assert all(run["status"] == "succeeded" for run in second), second
    # The second run sent its own update; the first run's subscription stays, once.
    updates = http.get(f"{url}/status_updates").json()["status_updates"]
    assert len(updates) == 2
    assert len(http.get(f"{url}/status_updates/subscribers").json()["subscribers"]) == 1
