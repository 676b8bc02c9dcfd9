"""Health checks: 10,000 connections, each with its own API key, probed through the real
monitor (egress on aiohttp, vault, verification, history rows) against a local fake
Elasticsearch answering in 50 ms, vs the concurrency bound N / latency. Also reports each
pass's peak memory.

The monitor runs once on asyncio's own loop and once on uvloop — what `fireline serve`
(uvicorn) and `fireline worker` run on — each in its own process, so that each peak memory
is its own. `--loop asyncio|uvloop` runs one of them."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trustme
import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tests.integrations.support import routing_resolver

from bench._runner import ROOT, free_port, report
from fireline.connections.models import Connection
from fireline.connections.monitor import Monitor
from fireline.connections.tools import Tools
from fireline.core import migrate
from fireline.core.db import Database
from fireline.core.ids import new_id
from fireline.settings import Settings
from fireline.vault.keyring import load_keyring
from fireline.vault.sealing import Vault

CONNECTIONS = int(__import__("os").environ.get("BENCH_CONNECTIONS", "10000"))
CONCURRENCY = 50
LATENCY = 0.05
KEY_SEED = b"bench-health-keys"
loop_name = "asyncio"


def api_key(index: int) -> str:
    """Each connection has its own key, as in real use (the fake can tell a wrong one)."""
    digest = hmac.new(KEY_SEED, str(index).encode(), hashlib.sha256).hexdigest()[:20]
    return f"bench-{index}-{digest}"


def _valid(authorization: str) -> bool:
    scheme, _, key = authorization.partition(" ")
    index = key.split("-")[1] if key.count("-") == 2 else ""
    return scheme == "ApiKey" and index.isdigit() and hmac.compare_digest(key, api_key(int(index)))


def slow_cluster() -> Starlette:
    async def root(request: Request) -> JSONResponse:
        await asyncio.sleep(LATENCY)
        if not _valid(request.headers.get("authorization", "")):
            return JSONResponse({"status": 401}, status_code=401)
        return JSONResponse({"cluster_name": "bench", "version": {"number": "8.15.0"}})

    return Starlette(routes=[Route("/", root)])


async def _wait_for_port(port: int) -> None:
    for _ in range(300):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError("the fake cluster did not start")


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory)
        ca = trustme.CA()
        cert = ca.issue_cert("es.bench.example", "127.0.0.1")
        cert.private_key_and_cert_chain_pem.write_to_path(str(home / "server.pem"))
        ca.cert_pem.write_to_path(str(home / "ca.pem"))
        port = free_port()
        # The fake runs in its own process (the other core), as a real tool would be remote.
        fake = subprocess.Popen([  # noqa: ASYNC220 (started once, before timing)
            sys.executable, "-m", "uvicorn", "bench.bench_health:slow_cluster", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
            "--ssl-certfile", str(home / "server.pem"), "--lifespan", "off",
            "--backlog", "4096", "--no-access-log"], cwd=str(ROOT))
        await _wait_for_port(port)

        settings = Settings.from_env({
            "FIRELINE_HOME": str(home), "FIRELINE_EGRESS_ALLOW_PRIVATE": "127.0.0.0/8",
            "FIRELINE_EGRESS_CA_BUNDLE": str(home / "ca.pem"),
            "FIRELINE_MASTER_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        })
        await asyncio.to_thread(migrate.upgrade, settings.database_url)
        keyring = load_keyring(settings)
        tools = Tools(settings=settings, keyring=keyring, vault=Vault(keyring),
                      resolver=routing_resolver({("es.bench.example", 443): port}))
        db = Database(settings.database_url)
        async with db.transaction() as session:
            for index in range(CONNECTIONS):
                connection_id = new_id()
                connection = Connection(
                    id=connection_id, integration="elasticsearch", name=f"es-{index}",
                    configuration={"url": "https://es.bench.example"},
                    data_key=tools.vault.new_data_key(table="connections", row_id=connection_id),
                    health_status="Unknown", health_failures=0, is_default=False,
                    allow_sre_agent=False, allow_private=[], secret_fields=[])
                tools.seal_secrets(connection, {"api_key": api_key(index)})
                session.add(connection)
        monitor = Monitor(db=db, tools=tools, concurrency=CONCURRENCY, batch_size=1000)
        started = time.perf_counter()
        checked = await monitor.run_pass()
        elapsed = time.perf_counter() - started
        assert checked == CONNECTIONS, checked
        async with db.session() as session:
            from sqlalchemy import func, select

            healthy = await session.scalar(select(func.count()).select_from(Connection).where(
                Connection.health_status == "Healthy"))
        assert healthy == CONNECTIONS, healthy
        await db.dispose()
        fake.terminate()
        fake.wait(timeout=30)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"loop": loop_name, "checked": checked, "seconds": round(elapsed, 2),
                      "peak_memory_mb": round(peak_mb, 1)}))
    report(f"health_checks_{loop_name}", checked / elapsed, CONCURRENCY / LATENCY,
           unit="checks/s")


LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", choices=sorted(LOOPS))
    chosen = parser.parse_args().loop
    if chosen is None:
        for name in LOOPS:  # the served configuration (uvloop) last: its ratio prints last
            subprocess.run([sys.executable, __file__, "--loop", name], check=True)
    else:
        loop_name = chosen
        with asyncio.Runner(loop_factory=LOOPS[chosen]) as runner:
            runner.run(main())
