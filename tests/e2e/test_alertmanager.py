"""Prometheus Alertmanager (the real binary) delivering to Fireline's Events API v2."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import FirelineServer, free_port, make_service

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
CONFIG = """\
route:
  receiver: fireline
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: fireline
    pagerduty_configs:
      - routing_key: {routing_key}
        url: {url}/v2/enqueue
        send_resolved: true
"""


@pytest.fixture
def alertmanager(tmp_path: Path, fireline_http_server: FirelineServer) -> Iterator[
    Callable[[str], str]
]:
    if not Path(ALERTMANAGER).exists():
        pytest.fail("prometheus-alertmanager is not installed (make test installs it)")
    processes: list[subprocess.Popen[bytes]] = []

    def start(routing_key: str) -> str:
        config = tmp_path / "alertmanager.yml"
        config.write_text(CONFIG.format(routing_key=routing_key, url=fireline_http_server.url))
        port = free_port()
        log = (tmp_path / "alertmanager.log").open("w")
        processes.append(subprocess.Popen([
            ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
            "--log.level=debug",
        ], stdout=log, stderr=log))
        log.close()
        base = f"http://127.0.0.1:{port}"
        _poll(lambda: httpx.get(f"{base}/-/ready", timeout=2).status_code == 200,
              what="alertmanager ready", log=tmp_path / "alertmanager.log")
        return base

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=15)


def _poll(check: Callable[[], Any], *, what: str, log: Path | None = None,
          timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            detail = log.read_text()[-4000:] if log else ""
            raise AssertionError(f"timed out waiting for {what}\n{detail}")
        time.sleep(0.5)


def _post_alert(base: str, ends_at: datetime | None = None) -> None:
    alert: dict[str, Any] = {
        "labels": {"alertname": "DiskFull", "instance": "web-1", "severity": "critical"},
        "annotations": {"summary": "Disk full on web-1"},
        "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    httpx.post(f"{base}/api/v2/alerts", json=[alert], timeout=10).raise_for_status()


def test_alertmanager_triggers_and_resolves_an_incident(
    fireline_http_server: FirelineServer, alertmanager: Callable[[str], str]
) -> None:
    service_id, routing_key = make_service(fireline_http_server, "Alertmanager")
    base = alertmanager(routing_key)

    def incidents() -> list[dict[str, Any]]:
        with fireline_http_server.http() as http:
            response = http.get("/api/incidents", params={"service_ids[]": [service_id]})
            response.raise_for_status()
            return list(response.json()["incidents"])

    _post_alert(base)
    [incident] = _poll(incidents, what="the incident")
    assert incident["status"] == "triggered"
    assert "DiskFull" in incident["title"]
    _post_alert(base, ends_at=datetime.now(UTC) - timedelta(seconds=5))
    resolved = _poll(lambda: [item for item in incidents() if item["status"] == "resolved"],
                     what="the resolution")
    assert [item["id"] for item in resolved] == [incident["id"]]
    assert len(incidents()) == 1
