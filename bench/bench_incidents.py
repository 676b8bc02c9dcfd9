"""REST incidents create and list on Fireline vs a bare FastAPI endpoint doing the same
database work (bench/ceiling_apps.py) on the same database file.

`python bench/bench_incidents.py [--postgres URL]` — SQLite by default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._runner import (
    BENCH_EMAIL,
    Call,
    bench_home,
    free_port,
    report,
    server,
    throughput,
    uvicorn_argv,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    backend = "postgres" if args.postgres else "sqlite"
    extra = {"FIRELINE_DATABASE_URL": args.postgres} if args.postgres else {}
    with bench_home(**extra) as (env, key):
        headers = {"Authorization": f"Token token={key}", "From": BENCH_EMAIL}
        fireline_port, ceiling_port = free_port(), free_port()
        # Both servers run side by side and the workloads alternate between them, best of
        # three rounds each: on a shared machine this compares code, not background load.
        with server(uvicorn_argv("fireline.app:app_from_env", fireline_port, factory=True),
                    env, fireline_port) as fireline_base, \
                server(uvicorn_argv("bench.ceiling_apps:app", ceiling_port), env,
                       ceiling_port) as ceiling_base:
            service_id = _setup(fireline_base, headers)
            workloads = dict(zip(("create", "list"), _workloads(headers, service_id),
                                 strict=True))
            best: dict[tuple[str, str], float] = {}
            for _ in range(args.rounds):
                for name, workload in workloads.items():
                    for side, base in (("fireline", fireline_base), ("ceiling", ceiling_base)):
                        rate = throughput(workload, base_url=base, seconds=args.seconds,
                                          warmup=0.5)
                        best[name, side] = max(best.get((name, side), 0.0), rate)
    for name in workloads:
        report(f"incidents_{name}_{backend}", best[name, "fireline"], best[name, "ceiling"])
    report(f"incidents_rest_{backend}",
           sum(best[name, "fireline"] for name in workloads),
           sum(best[name, "ceiling"] for name in workloads))


def _setup(base: str, headers: dict[str, str]) -> str:
    service = httpx.post(f"{base}/api/services", headers=headers,
                         json={"service": {"name": "Bench"}})
    service.raise_for_status()
    return str(service.json()["service"]["id"])


def _workloads(headers: dict[str, str], service_id: str) -> tuple[Call, Call]:
    body = {"incident": {"type": "incident", "title": "Bench incident",
                         "service": {"id": service_id, "type": "service_reference"}}}
    return (Call("POST", "/api/incidents", headers, body),
            Call("GET", "/api/incidents", headers))


if __name__ == "__main__":
    main()
