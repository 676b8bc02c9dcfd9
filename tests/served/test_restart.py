"""`kill -9` of the embedded server mid-run, then `fireline serve` again on the same home
(issue 17): the restarted process holds the dead one's instance slot (workflows/instance.py),
so it releases the step the dead one held at once instead of waiting out the lease, and the
run completes, the idempotent search sent again once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.integrations.fakes import elasticsearch as fake
from tests.integrations.support import ca_bundle, serve
from tests.served.cases.elasticsearch import DOCS, KEY
from tests.served.harness import Served, connect_to, wait_until

HOST = "es.example.com"
LEASE = 120  # far longer than the test may take: only the release can make it in time


class FirstSearchHangs:
    """The fake Elasticsearch, except that the first `_search` never answers (it hangs until
    the test ends): the worker that sent it is killed while it waits."""

    def __init__(self) -> None:
        self.searches = 0
        self.release = threading.Event()
        self.inner = fake.make_app(KEY, DOCS)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/_search"):
            self.searches += 1
            if self.searches == 1:
                await asyncio.to_thread(self.release.wait)
        await self.inner(scope, receive, send)


@pytest.fixture
def slow_tool(served_ca: trustme.CA, tmp_path: Path
              ) -> Iterator[tuple[FirstSearchHangs, dict[str, str]]]:
    tool = FirstSearchHangs()
    with serve(tool, served_ca, tmp_path, HOST) as server:
        env = {"FIRELINE_EGRESS_ALLOW_PRIVATE": "127.0.0.0/8",
               "FIRELINE_EGRESS_CA_BUNDLE": str(ca_bundle(served_ca)),
               "FIRELINE_EGRESS_CONNECT_TO": connect_to({(HOST, 9200): server.port}),
               "FIRELINE_WORKFLOW_LEASE_SECONDS": str(LEASE)}
        try:
            yield tool, env
        finally:
            tool.release.set()


def _step(served: Served, run_id: str) -> dict[str, object]:
    run = served.http.get(f"/api/incident_workflow_runs/{run_id}").json()["incident_workflow_run"]
    return {"run": run["status"], **run["steps"][0]}


def test_a_restart_after_kill_9_resumes_the_held_step_at_once(
    slow_tool: tuple[FirstSearchHangs, dict[str, str]],
) -> None:
    tool, env = slow_tool
    with Served.start(env) as first:
        made = first.create_connection("elasticsearch", {
            "name": "logs", "configuration": {"url": f"https://{HOST}:9200"},
            "secrets": {"api_key": KEY}})
        assert made.status_code == 201, made.text
        connection_id = made.json()["connection"]["id"]
        saved = first.http.post("/api/incident_workflows", json={"incident_workflow": {
            "name": "search the logs", "trigger": {"type": "manual"},
            "steps": [{"id": "search", "action": "elasticsearch.search_logs",
                       "connection": connection_id,
                       "with": {"index_pattern": "logs-*", "query_type": "kql",
                                "query": "level:error"}}]}})
        assert saved.status_code == 201, saved.text
        incident = first.incident("slow restart")
        started = first.http.post(
            f"/api/incident_workflows/{saved.json()['incident_workflow']['id']}/instances",
            json={"incident_workflow_instance": {
                "incident": {"id": incident["id"], "type": "incident_reference"}}})
        run_id = started.json()["incident_workflow_instance"]["id"]
        wait_until("the search to be under way at the tool",
                   lambda: tool.searches == 1 and _step(first, run_id)["status"] == "running")
        first.kill()

    started_at = time.monotonic()
    with Served.start(env, after=first) as second:
        ended = wait_until("the run to end after the restart",
                           lambda: (step := _step(second, run_id))["run"] in
                           {"succeeded", "failed", "needs_attention"} and step,
                           timeout=LEASE / 4)
        took = time.monotonic() - started_at
        assert ended["run"] == "succeeded", (ended, second.log()[-3000:])
        assert ended["status"] == "succeeded" and ended["attempts"] == 2, ended
        assert tool.searches == 2
        assert "workflow_leases_released" in second.log()
    print(f"restart to completion: {took:.1f} s (lease {LEASE} s)")
