"""A real Fireline server (`fireline serve` over HTTPS with a throwaway CA) for clients that
speak to it over the network: the official `pagerduty` package and Prometheus Alertmanager."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FirelineServer:
    url: str
    api_key: str
    email: str
    ssl_context: ssl.SSLContext

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token token={self.api_key}", "From": self.email}

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.ssl_context, headers=self.headers,
                            timeout=30)


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "fireline", *args], env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    return result.stdout.strip()


@contextmanager
def run_fireline(home: Path, *, tls: bool,
                 env_extra: dict[str, str] | None = None) -> Iterator[FirelineServer]:
    """`fireline serve` on a free port, over HTTPS (throwaway CA) or plain HTTP."""
    ca = trustme.CA()
    context = ssl.create_default_context()
    ca.configure_trust(context)
    port = free_port()
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "fireline", "serve", "--port", str(port)]
    if tls:
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert_file, key_file = home / "server.pem", home / "server.key"
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        cert.private_key_pem.write_to_path(str(key_file))
        argv += ["--tls-cert", str(cert_file), "--tls-key", str(key_file)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("FIRELINE_")}
    env.update(FIRELINE_HOME=str(home), FIRELINE_BASE_URL=url, **(env_extra or {}))
    _cli(env, "db", "upgrade")
    email = "e2e-admin@example.com"
    _cli(env, "users", "create", "--email", email, "--name", "E2E Admin", "--role", "admin")
    api_key = _cli(env, "api-keys", "create", "--email", email)
    with (home / "server.log").open("w") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        try:
            _wait_until_up(url, context, process, home)
            yield FirelineServer(url, api_key, email, context)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:  # open keep-alive connections can hold shutdown
                process.kill()
                process.wait(timeout=15)


@pytest.fixture(scope="module")
def fireline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirelineServer]:
    with run_fireline(tmp_path_factory.mktemp("fireline-home"), tls=True) as server:
        yield server


@pytest.fixture(scope="module")
def fireline_http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirelineServer]:
    with run_fireline(tmp_path_factory.mktemp("fireline-home"), tls=False) as server:
        yield server


def _wait_until_up(url: str, context: ssl.SSLContext, process: subprocess.Popen[bytes],
                   home: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/healthz", verify=context, timeout=2).raise_for_status()
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log = (home / "server.log").read_text()
                raise RuntimeError(f"fireline serve did not start:\n{log}") from None
            time.sleep(0.2)


def make_service(server: FirelineServer, name: str) -> tuple[str, str]:
    """Creates a service with an Events API v2 integration; returns (service id, routing key)."""
    with server.http() as http:
        service = http.post("/api/services", json={"service": {"name": name}})
        service.raise_for_status()
        service_id = service.json()["service"]["id"]
        integration = http.post(f"/api/services/{service_id}/integrations", json={
            "integration": {"type": "events_api_v2_inbound_integration"}})
        integration.raise_for_status()
    return service_id, integration.json()["integration"]["integration_key"]
