"""A bounded soak (issue 17): mixed load for a while through two API nodes and a worker on
PostgreSQL, as Fireline scales out (`fireline serve --no-workers` twice, `fireline worker`).

The load, round-robin over the two nodes at a fixed concurrency: Events API triggers over
a rolling set of dedup keys (new incidents and deduplicated alerts), incident lists, notes,
and manual workflow runs the worker executes (httpx clients: the load generator shares the
two cores, so the figures are the whole machine's, not a ceiling of the server). Every window
prints its throughput, p99 and
each process's RSS; the end compares the last window with the first (after warm-up) and
says whether memory stayed flat (under 20% growth after the first window).

    .venv/bin/python bench/soak.py               # 10 minutes (not part of `make bench`)
    .venv/bin/python bench/soak.py --seconds 60  # a quick look

Last line, as every benchmark's: `soak: fireline=<last window req/s> ceiling=<first window
req/s> ratio=<last / first>`, the ceiling being the same processes before they have run long.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._runner import bench_home, free_port, report, server_process

ADMIN_URL = os.environ.get("FIRELINE_TEST_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
FLAT = 1.2  # RSS growth after the first window that still counts as flat


@contextmanager
def database() -> Iterator[str]:
    """A throwaway PostgreSQL database's URL."""
    name = f"fireline_soak_{secrets.token_hex(4)}"

    async def execute(statement: str) -> None:
        connection = await asyncpg.connect(ADMIN_URL, timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _setup(base: str, headers: dict[str, str]) -> tuple[str, str, str]:
    """A service with an Events API key, an incident to note, and a manual workflow."""
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        service = http.post("/api/services", json={"service": {"name": "Soak"}}).json()
        service_id = service["service"]["id"]
        integration = http.post(f"/api/services/{service_id}/integrations", json={
            "integration": {"type": "events_api_v2_inbound_integration"}}).json()
        incident = http.post("/api/incidents", json={"incident": {
            "type": "incident", "title": "Soak target",
            "service": {"id": service_id, "type": "service_reference"}}}).json()
        workflow = http.post("/api/incident_workflows", json={"incident_workflow": {
            "name": "Soak", "trigger": {"type": "manual"},
            "steps": [{"id": "look", "action": "fireline.noop"},
                      {"id": "note", "action": "fireline.add_note",
                       "with": {"content": "soak {{ incident.title }}"}}]}}).json()
    return (integration["integration"]["integration_key"], incident["incident"]["id"],
            workflow["incident_workflow"]["id"])


async def _window(bases: list[str], headers: dict[str, str], seconds: float, concurrency: int,
                  routing_key: str, incident_id: str, workflow_id: str,
                  keys: Iterator[int]) -> tuple[int, list[float], int]:
    """One window of mixed load: (requests done, their latencies, non-2xx answers)."""
    latencies: list[float] = []
    failed = 0
    stop_at = time.perf_counter() + seconds
    kinds = itertools.cycle(("event", "event", "event", "list", "note", "event", "run"))

    def request(kind: str) -> tuple[str, str, dict[str, object] | None]:
        if kind == "event":
            return "POST", "/v2/enqueue", {
                "routing_key": routing_key, "event_action": "trigger",
                "dedup_key": f"host-{next(keys) % 500}",
                "payload": {"summary": "Disk filling", "source": "soak", "severity": "error"}}
        if kind == "list":
            return "GET", "/api/incidents?limit=25&statuses[]=triggered", None
        if kind == "note":
            return "POST", f"/api/incidents/{incident_id}/notes", {
                "note": {"content": "still soaking"}}
        return "POST", f"/api/incident_workflows/{workflow_id}/instances", {
            "incident_workflow_instance": {"incident": {"id": incident_id,
                                                        "type": "incident_reference"}}}

    async def worker(index: int) -> None:
        nonlocal failed
        async with httpx.AsyncClient(base_url=bases[index % len(bases)], headers=headers,
                                     timeout=30) as http:
            while time.perf_counter() < stop_at:
                method, path, body = request(next(kinds))
                started = time.perf_counter()
                answer = await http.request(method, path, json=body)
                latencies.append(time.perf_counter() - started)
                failed += answer.status_code >= 300

    await asyncio.gather(*(worker(index) for index in range(concurrency)))
    return len(latencies), latencies, failed


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    window = min(args.window, args.seconds / 2)
    with database() as url, bench_home(FIRELINE_DATABASE_URL=url,
                                       FIRELINE_HEALTH_CHECK_INTERVAL_SECONDS="3600") as (
            env, key):
        headers = {"Authorization": f"Token token={key}", "From": "bench@example.com",
                   "Accept": "application/vnd.pagerduty+json;version=2"}
        with ExitStack() as stack:
            pids, bases = {}, []
            for node in ("api-1", "api-2"):
                port = free_port()
                base, process = stack.enter_context(server_process(
                    [sys.executable, "-m", "fireline", "serve", "--no-workers",
                     "--port", str(port)], env, port))
                bases.append(base)
                pids[node] = process.pid
            worker = stack.enter_context(subprocess.Popen(
                [sys.executable, "-m", "fireline", "worker"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            stack.callback(worker.terminate)
            pids["worker"] = worker.pid
            routing_key, incident_id, workflow_id = _setup(bases[0], headers)
            keys = itertools.count()
            # Warm-up, not counted: first connections, caches, the planner's first plans.
            asyncio.run(_window(bases, headers, min(10.0, window), args.concurrency,
                                routing_key, incident_id, workflow_id, keys))
            rates: list[float] = []
            first_rss: dict[str, float] = {}
            started = time.monotonic()
            print(f"soak: {args.seconds:.0f} s, windows of {window:.0f} s, concurrency "
                  f"{args.concurrency}, 2 API nodes + 1 worker on PostgreSQL")
            while time.monotonic() - started < args.seconds - window / 2:
                done, latencies, failed = asyncio.run(_window(
                    bases, headers, window, args.concurrency, routing_key, incident_id,
                    workflow_id, keys))
                rss = {name: rss_mib(pid) for name, pid in pids.items()}
                first_rss = first_rss or rss
                rates.append(done / window)
                print(f"  t={time.monotonic() - started:5.0f}s {done / window:7.1f} req/s "
                      f"p99={_p99(latencies):6.1f} ms failed={failed} RSS MiB "
                      + " ".join(f"{name}={value:.0f}" for name, value in rss.items()),
                      flush=True)
            growth = {name: rss[name] / first_rss[name] for name in rss if first_rss[name]}
            flat = all(value < FLAT for value in growth.values())
            print("memory " + ("stayed flat" if flat else "grew") + ": "
                  + " ".join(f"{name} x{value:.2f}" for name, value in growth.items()))
            report("soak", rates[-1], rates[0])


if __name__ == "__main__":
    main()
