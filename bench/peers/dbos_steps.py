"""The peer side of `bench/bench_peers.py`: DBOS Transact runs the same workload as
`bench_engine` — a workflow of 40 no-op steps, each checkpointed — and prints its steps per
second as JSON. Runs in the peers' own virtual environment (never a dependency of `src/`).

    python dbos_steps.py --url sqlite:///path.db --runs 5               # one at a time
    python dbos_steps.py --url postgresql+psycopg://... --concurrent 20  # 20 at once

SQLite is set to what Fireline uses on its defaults, so both pay the same disk: WAL with
synchronous=FULL (and DBOS's own IMMEDIATE transactions and busy timeout).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig
from sqlalchemy import event

STEPS = 40


@DBOS.step()
def noop(index: int) -> int:
    return index


@DBOS.workflow()
def forty_steps(steps: int) -> int:
    for index in range(steps):
        noop(index)
    return steps


def _sqlite_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = "IMMEDIATE"  # as DBOS sets it on its own engine
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=FULL")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    return engine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=0)
    args = parser.parse_args()
    config: DBOSConfig = {"name": "fireline-peer-bench", "system_database_url": args.url,
                          "run_admin_server": False}
    if args.url.startswith("sqlite"):
        config["system_database_engine"] = _sqlite_engine(args.url)
    DBOS(config=config)
    DBOS.launch()
    try:
        forty_steps(STEPS)  # warm: tables, caches, connections
        started = time.perf_counter()
        if args.concurrent:
            handles = [DBOS.start_workflow(forty_steps, STEPS) for _ in range(args.concurrent)]
            done = sum(handle.get_result() for handle in handles)
        else:
            done = sum(forty_steps(STEPS) for _ in range(args.runs))
        elapsed = time.perf_counter() - started
    finally:
        DBOS.destroy()
    print(json.dumps({"steps_per_second": done / elapsed}))


if __name__ == "__main__":
    main()
