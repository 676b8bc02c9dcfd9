"""Shared benchmark runner: start a server, drive a workload, print the ratio to a ceiling.

Every benchmark measures Fireline and its ceiling in the same run on the same machine and
prints `name: fireline=X ceiling=Y ratio=Z` as its last line.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fireline_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env.update(FIRELINE_HOME=str(home), PYTHONPATH=str(ROOT / "src") + os.pathsep + str(ROOT))
    env.update(extra)
    return env


@contextmanager
def temporary_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fireline-bench-") as directory:
        yield Path(directory)


BENCH_MASTER_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
BENCH_EMAIL = "bench@example.com"


@contextmanager
def bench_home(**extra: str) -> Iterator[tuple[dict[str, str], str]]:
    """A migrated Fireline home with an admin (BENCH_EMAIL) and the limits raised (the
    benchmarks measure the request path, not the limiter); yields its env and API key."""
    with temporary_home() as home:
        env = fireline_env(home, FIRELINE_MASTER_KEY=BENCH_MASTER_KEY,
                           FIRELINE_REST_RATE_LIMIT_PER_MINUTE="100000000",
                           FIRELINE_EVENTS_RATE_LIMIT_PER_MINUTE="100000000", **extra)
        cli(env, "db", "upgrade")
        cli(env, "users", "create", "--email", BENCH_EMAIL, "--name", "Bench", "--role", "admin")
        yield env, cli(env, "api-keys", "create", "--email", BENCH_EMAIL)


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "fireline", *args], env=env, capture_output=True, text=True,
        check=True, timeout=120,
    )
    return result.stdout.strip()


@contextmanager
def server(argv: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """Runs a server process until the block ends; yields its base URL once it answers."""
    with server_process(argv, env, port) as (base, _):
        yield base


@contextmanager
def server_process(argv: list[str], env: dict[str, str],
                   port: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`server`, also yielding the process (its pid, for RSS)."""
    with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as process:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    process.kill()
                    raise RuntimeError(f"server {argv} did not start") from None
                time.sleep(0.1)
        try:
            yield base, process
        finally:
            process.terminate()
            process.wait(timeout=30)


def uvicorn_argv(app: str, port: int, *, factory: bool = False) -> list[str]:
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log"]
    return [*argv, "--factory"] if factory else argv


@dataclass(frozen=True)
class Call:
    """One HTTP request of a workload, written out once as HTTP/1.1 bytes."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None

    def encode(self) -> bytes:
        body = b"" if self.json is None else json.dumps(self.json).encode()
        head = [f"{self.method} {self.path} HTTP/1.1", "Host: 127.0.0.1",
                *(f"{name}: {value}" for name, value in self.headers.items())]
        if self.json is not None:
            head.append("Content-Type: application/json")
        head.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


Workload = Call | Callable[[], Call]


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> tuple[int, bytes]:
    """Sends one request on a kept-alive connection and reads the response (the servers
    measured here always answer with a Content-Length)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _drive(workload: Workload, *, base_url: str, seconds: float,
                 concurrency: int) -> float:
    # A lean client: the load generator shares the machine's two cores with the server, and
    # a full HTTP client (httpx: about 1 ms of CPU per request) would take half of them.
    fixed = workload.encode() if isinstance(workload, Call) else None
    host, port = base_url.removeprefix("http://").split(":")
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < stop_at:
                request = fixed or workload().encode()  # type: ignore[operator]
                status, body = await _exchange(reader, writer, request)
                if status >= 400:
                    raise RuntimeError(f"{status}: {body[:200]!r}")
                done += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


def throughput(
    workload: Workload, *, base_url: str, seconds: float = 5.0, concurrency: int = 8,
    warmup: float = 1.0,
) -> float:
    """Requests per second that `workload` (one request, or a function making each one)
    sustains against `base_url`."""
    asyncio.run(_drive(workload, base_url=base_url, seconds=warmup, concurrency=concurrency))
    return asyncio.run(
        _drive(workload, base_url=base_url, seconds=seconds, concurrency=concurrency))


def report(name: str, fireline: float, ceiling: float, unit: str = "req/s") -> float:
    ratio = fireline / ceiling if ceiling else 0.0
    print(f"{name}: fireline={fireline:.1f}{unit} ceiling={ceiling:.1f}{unit} ratio={ratio:.2f}")
    return ratio


async def create_commit_table(db: Any) -> None:
    """A one-row table for `commits_per_second` (emptied if an earlier run left it)."""
    from sqlalchemy import text

    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE IF NOT EXISTS bench_commits "
                                   "(id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        await session.execute(text("DELETE FROM bench_commits"))
        await session.execute(text("INSERT INTO bench_commits VALUES (1, 0)"))


async def commits_per_second(db: Any, seconds: float) -> float:
    """The database's single-row commit rate through Fireline's `Database`: one-row UPDATE
    transactions, one after another — the ceiling of anything that commits once per item."""
    from sqlalchemy import Column, Integer, MetaData, Table, update

    table = Table("bench_commits", MetaData(), Column("id", Integer, primary_key=True),
                  Column("n", Integer))
    done = 0
    started = time.perf_counter()
    stop = started + seconds
    while time.perf_counter() < stop:
        async with db.transaction() as session:
            await session.execute(update(table).where(table.c.id == 1)
                                  .values(n=table.c.n + 1))
        done += 1
    return done / (time.perf_counter() - started)
