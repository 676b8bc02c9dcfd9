"""Invalid input on every endpoint gives a clear 4xx, never a 5xx: schemathesis generates
requests from our OpenAPI document against a real `fireline serve`, on both databases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import EmptyDatabase
from tests.e2e.conftest import run_fireline


def test_schemathesis_finds_no_server_error(empty_database: EmptyDatabase, tmp_path: Path,
                                            master_key: str) -> None:
    extra = {"FIRELINE_DATABASE_URL": empty_database.url, "FIRELINE_MASTER_KEY": master_key,
             # Fuzzing sends thousands of requests: the 960/min limit would answer 429s only.
             "FIRELINE_REST_RATE_LIMIT_PER_MINUTE": "1000000",
             "FIRELINE_EVENTS_RATE_LIMIT_PER_MINUTE": "1000000"}
    with run_fireline(tmp_path, tls=False, env_extra=extra) as server:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "run",
             f"{server.url}/api/openapi.json", "--checks", "not_a_server_error",
             "--max-examples", "15", "--seed", "1", "--no-color",
             "-H", f"Authorization: Token token={server.api_key}",
             "-H", f"From: {server.email}"],
            capture_output=True, text=True, timeout=600, check=False,
        )
    failures = result.stdout[result.stdout.find("FAILURES"):][:6000]
    assert result.returncode == 0, failures + result.stderr[-2000:]
    assert "passed" in result.stdout
