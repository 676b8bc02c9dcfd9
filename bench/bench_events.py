"""Events API v2 intake: triggers with deduplication on Fireline vs raw alert inserts by a
bare FastAPI endpoint (bench/ceiling_apps.py) on the same SQLite database.

The Fireline workload spreads triggers over 20 dedup keys, so after the first 20 events
every trigger is deduplicated into an open incident (an alert appended) — the common case
of a flapping monitor. Target: ≥ 1,000 events/s on SQLite. The ceiling is one transaction
per request; Fireline group-commits concurrent events (core/groupcommit.py), so its ratio
may exceed 1.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._runner import Call, bench_home, free_port, report, server, throughput, uvicorn_argv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with bench_home() as (env, key):
        headers = {"Authorization": f"Token token={key}"}
        keys = itertools.cycle([f"host-{n}/disk" for n in range(20)])

        def event() -> Call:
            return Call("POST", "/v2/enqueue", json={
                "routing_key": routing_key, "event_action": "trigger", "dedup_key": next(keys),
                "payload": {"summary": "Disk at 99%", "source": "web-1", "severity": "error",
                            "custom_details": {"free": "1%"}}})

        fireline_port, ceiling_port = free_port(), free_port()
        # Side by side, alternating, best of the rounds: see bench_incidents.py.
        with server(uvicorn_argv("fireline.app:app_from_env", fireline_port, factory=True),
                    env, fireline_port) as fireline_base, \
                server(uvicorn_argv("bench.ceiling_apps:app", ceiling_port), env,
                       ceiling_port) as ceiling_base:
            routing_key = _setup(fireline_base, headers)
            fireline = ceiling = 0.0  # Fireline goes first: it opens the incidents
            for _ in range(args.rounds):
                fireline = max(fireline, throughput(event, base_url=fireline_base,
                                                    seconds=args.seconds, warmup=0.5))
                ceiling = max(ceiling, throughput(event, base_url=ceiling_base,
                                                  seconds=args.seconds, warmup=0.5))
    print("note: Fireline runs on its defaults: SQLite WAL with synchronous=FULL (every "
          "commit fsynced; FIRELINE_SQLITE_SYNCHRONOUS is not set)")
    print("note: the ceiling commits one transaction per request; Fireline group-commits the "
          "events that arrive together (each answered 202 only after its batch committed), "
          "which is how it can exceed that ceiling")
    report("events_intake_sqlite", fireline, ceiling, unit="events/s")


def _setup(base: str, headers: dict[str, str]) -> str:
    service = httpx.post(f"{base}/api/services", headers=headers,
                         json={"service": {"name": "Bench"}}).json()["service"]
    integration = httpx.post(
        f"{base}/api/services/{service['id']}/integrations", headers=headers,
        json={"integration": {"type": "events_api_v2_inbound_integration"}})
    return str(integration.json()["integration"]["integration_key"])


if __name__ == "__main__":
    main()
