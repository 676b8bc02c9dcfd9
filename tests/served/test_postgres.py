"""Scale-out as README "Scale-out" runs it: PostgreSQL, `fireline serve --no-workers` for the
API and a separate `fireline worker` process (on uvloop too) that checks connections and runs
workflows. The API node never calls a tool here but to verify on save; the worker does the rest."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Iterator

import pytest
import trustme

from tests.conftest import PostgresServer
from tests.served.cases import elasticsearch
from tests.served.conftest import base_env
from tests.served.harness import Served


@pytest.fixture(scope="module")
def scaled_out(postgres_server: PostgresServer, served_ca: trustme.CA,
               fake_routes: dict[tuple[str, int], int]) -> Iterator[Served]:
    name = asyncio.run(postgres_server.create())
    try:
        env = {**base_env(served_ca, fake_routes),
               "FIRELINE_DATABASE_URL": postgres_server.url_for(name),
               "FIRELINE_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
        with Served.start(env, workers=False) as running:
            yield running
    finally:
        asyncio.run(postgres_server.drop(name))


def test_the_worker_process_checks_connections_and_runs_workflows(scaled_out: Served) -> None:
    case = elasticsearch.CASE
    created = scaled_out.create_connection(case.slug, {
        "name": "ES on PostgreSQL", "configuration": case.config, "secrets": case.secrets})
    assert created.status_code == 201, created.text
    connection = created.json()["connection"]
    assert connection["health"]["status"] == "Healthy", connection["health"]

    action, inputs = case.steps[0]
    run = scaled_out.run_workflow({"name": "search from the worker", "steps": [
        {"id": "logs", "action": f"{case.slug}.{action}", "connection": connection["id"],
         "with": inputs},
        {"id": "note", "action": "fireline.add_note",
         "with": {"content": "{{ steps.logs.output.total }} error(s) found"}}]},
        title="scale-out")
    assert run["status"] == "succeeded", run
    case.check({action: run["steps"][0]["output"]})
    periodic = scaled_out.wait_for_periodic_check(case.slug, connection["id"])
    assert periodic["is_healthy"] is True
    assert "workflow_engine" in (scaled_out.home / "worker.log").read_text()
