"""Authenticated `GET /api/users/me` on Fireline vs a bare FastAPI endpoint doing the same
key lookup on the same SQLite database."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._runner import Call, bench_home, free_port, report, server, throughput, uvicorn_argv


def main() -> None:
    with bench_home() as (env, key):
        headers = {"Authorization": f"Token token={key}"}
        request = Call("GET", "/api/users/me", headers)

        port = free_port()
        with server(uvicorn_argv("fireline.app:app_from_env", port, factory=True), env,
                    port) as base:
            fireline = throughput(request, base_url=base)
        port = free_port()
        with server(uvicorn_argv("bench.ceiling_apps:app", port), env, port) as base:
            ceiling = throughput(request, base_url=base)
    report("auth_request", fireline, ceiling)


if __name__ == "__main__":
    main()
