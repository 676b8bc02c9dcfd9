"""Engine vs a peer: Fireline's workflow engine and DBOS Transact 3.4 (a durable-workflow
library that checkpoints every step to SQLite or PostgreSQL) run the same workload — a
workflow of 40 no-op steps — at the same durability, in alternating rounds in one run:

    sqlite      one run at a time; both on SQLite WAL with synchronous=FULL
    postgres    one run at a time; both on the local PostgreSQL, server defaults
    parallel    Fireline: 4 engines on 20 runs; DBOS: 20 workflows at once

Each figure is steps per second, the median of the rounds; each line's ratio is the median
of the rounds' `fireline ÷ dbos`. A last line gives Fireline's SQLite figure as a ratio to
the raw `sqlite3` commit rate at the same durability (one-row UPDATE transactions, no Python
layer between).

DBOS runs in a virtual environment of its own (`make bench-peers` makes it: `.venv-peers`),
never a dependency of Fireline. Both sides run as fresh processes, one after the other.

    .venv/bin/python bench/bench_peers.py [--rounds 5] [--peers-python .venv-peers/bin/python]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "FIRELINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CONFIGURATIONS = ("sqlite", "postgres", "parallel")


def _json_figure(argv: list[str], env: dict[str, str] | None = None) -> float:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env,
                          timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed:\n{done.stderr[-3000:]}")
    last = [line for line in done.stdout.splitlines() if line.startswith("{")][-1]
    return float(json.loads(last)["steps_per_second"])


def fireline(configuration: str) -> float:
    one = {"sqlite": "sqlite", "postgres": "postgres", "parallel": "postgres-parallel"}
    return _json_figure([sys.executable, str(ROOT / "bench" / "bench_engine.py"), "--one",
                         one[configuration]])


async def _database(action: str, name: str) -> None:
    admin = await asyncpg.connect(POSTGRES_URL, timeout=10)
    try:
        if action == "create":
            await admin.execute(f'CREATE DATABASE "{name}"')
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def dbos(configuration: str, python: str) -> float:
    script = str(ROOT / "bench" / "peers" / "dbos_steps.py")
    env = {key: value for key, value in os.environ.items() if not key.startswith("DBOS")}
    if configuration == "sqlite":
        with tempfile.TemporaryDirectory(prefix="dbos-bench-") as directory:
            return _json_figure([python, script, "--url",
                                 f"sqlite:///{directory}/dbos.db"], env)
    name = f"dbos_bench_{secrets.token_hex(4)}"
    asyncio.run(_database("create", name))
    try:
        url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        url = url.rsplit("/", 1)[0] + f"/{name}"
        extra = ["--concurrent", "20"] if configuration == "parallel" else []
        return _json_figure([python, script, "--url", url, *extra], env)
    finally:
        asyncio.run(_database("drop", name))


def raw_sqlite_commits(seconds: float = 2.0) -> float:
    """One-row UPDATE transactions through `sqlite3` alone, WAL with synchronous=FULL."""
    with tempfile.TemporaryDirectory(prefix="raw-sqlite-") as directory:
        connection = sqlite3.connect(f"{directory}/raw.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        connection.execute("INSERT INTO t VALUES (1, 0)")
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("UPDATE t SET n = n + 1 WHERE id = 1")
            connection.execute("COMMIT")
            done += 1
        connection.close()
        return done / (time.perf_counter() - started)


def _postgres_reachable() -> bool:
    async def probe() -> None:
        await (await asyncpg.connect(POSTGRES_URL, timeout=5)).close()
    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--peers-python", default=str(ROOT / ".venv-peers" / "bin" / "python"))
    args = parser.parse_args()
    if not Path(args.peers_python).exists():
        raise SystemExit(f"{args.peers_python} is missing: `make bench-peers` makes it")
    configurations = [c for c in CONFIGURATIONS if c == "sqlite" or _postgres_reachable()]
    figures: dict[tuple[str, str], list[float]] = {}
    raw: list[float] = []
    for round_ in range(args.rounds):
        for configuration in configurations:
            # Alternating who goes first: neither side always meets a warmer disk.
            sides = [("fireline", lambda c=configuration: fireline(c)),
                     ("dbos", lambda c=configuration: dbos(c, args.peers_python))]
            for name, measure in sides if round_ % 2 == 0 else reversed(sides):
                figures.setdefault((configuration, name), []).append(measure())
        raw.append(raw_sqlite_commits())
        print(f"round {round_ + 1}/{args.rounds}: " + ", ".join(
            f"{c}/{n}={values[-1]:.0f}" for (c, n), values in figures.items())
            + f", raw_sqlite={raw[-1]:.0f}", flush=True)
    median = {key: statistics.median(values) for key, values in figures.items()}
    for configuration in configurations:
        ours, theirs = median[(configuration, "fireline")], median[(configuration, "dbos")]
        # Each round's two figures were taken minutes apart at most: their ratio drifts less
        # than either figure does with the machine (the disk's fsync time varies here).
        ratio = statistics.median(
            mine / peer for mine, peer in zip(figures[(configuration, "fireline")],
                                              figures[(configuration, "dbos")], strict=True))
        print(f"peers_{configuration}: fireline={ours:.1f}/s dbos={theirs:.1f}/s "
              f"ratio={ratio:.2f}")
    ours, ceiling = median[("sqlite", "fireline")], statistics.median(raw)
    print(f"peers_sqlite_vs_raw_sqlite3: fireline={ours:.1f}/s ceiling={ceiling:.1f}/s "
          f"ratio={ours / ceiling:.2f}")


if __name__ == "__main__":
    main()
