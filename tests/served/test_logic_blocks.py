"""Issue 14 in `fireline serve`: a workflow with a condition and a loop, run from outside
over HTTP. The branch not taken ends `not_taken`, the loop's second pass waits its interval
and runs with its own idempotency key, and what follows runs once after both blocks."""

from __future__ import annotations

from tests.served.harness import Served


def test_a_condition_and_a_loop_run_in_the_served_process(served: Served) -> None:
    def note(step_id: str) -> dict[str, object]:
        return {"id": step_id, "action": "fireline.add_note", "with": {"content": step_id}}

    run = served.run_workflow({"name": "blocks in serve", "steps": [
        {"id": "check", "action": "fireline.condition",
         "with": {"expression": "'database' in incident.title"},
         "then": [note("page_dba")], "else": [note("page_sre")]},
        {"id": "poll", "action": "fireline.loop_until",
         "with": {"expression": "steps.read.output.notes | length >= 3",
                  "max_iterations": 4, "interval_seconds": 1},
         "steps": [note("ping"), {"id": "read", "action": "fireline.get_notes"}]},
        note("done"),
    ]}, title="database is slow")
    assert run["status"] == "succeeded", run
    steps = {step["id"]: step for step in run["steps"]}
    assert steps["page_sre"]["status"] == "not_taken"
    assert steps["poll"]["output"] == {"iterations": 2}
    assert steps["ping"]["idempotency_key"] == f"{run['id']}:ping:1"

    notes = served.http.get(f"/api/incidents/{run['incident']['id']}/notes")
    assert notes.status_code == 200, notes.text
    assert [note["content"] for note in notes.json()["notes"]] == [
        "page_dba", "ping", "ping", "done"]
