from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import EmptyDatabase


def _run(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fireline", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cli_env(empty_database: EmptyDatabase, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env.update(FIRELINE_HOME=str(tmp_path / "home"), FIRELINE_DATABASE_URL=empty_database.url)
    assert _run(env, "db", "upgrade").returncode == 0
    return env


def test_cli_users_teams_and_api_keys(cli_env: dict[str, str]) -> None:
    created = _run(
        cli_env,
        "users",
        "create",
        "--email",
        "ana@example.com",
        "--name",
        "Ana",
        "--role",
        "manager",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert created.returncode == 0, created.stderr
    assert _run(cli_env, "teams", "create", "--name", "Payments").returncode == 0
    member = _run(
        cli_env,
        "teams",
        "add-member",
        "--team",
        "Payments",
        "--email",
        "ana@example.com",
        "--role",
        "manager",
    )
    assert member.returncode == 0, member.stderr
    key = _run(cli_env, "api-keys", "create", "--email", "ana@example.com", "--read-only")
    assert key.returncode == 0
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}\n", key.stdout), "prints only the key"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("users", "create", "--email", "x@example.com", "--name", "X", "--role", "god"),
            "Unknown role",
        ),
        (
            (
                "teams",
                "add-member",
                "--team",
                "Nope",
                "--email",
                "x@example.com",
                "--role",
                "manager",
            ),
            "No team",
        ),
        (("api-keys", "create", "--email", "nobody@example.com"), "No user"),
    ],
)
def test_cli_bad_input_is_a_clear_error(
    cli_env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    result = _run(cli_env, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_duplicate_email_changes_nothing(cli_env: dict[str, str]) -> None:
    args = ("users", "create", "--email", "d@example.com", "--name", "D", "--role", "admin")
    assert _run(cli_env, *args).returncode == 0
    again = _run(cli_env, *args)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_cli_malformed_environment_is_named(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env.update(FIRELINE_HOME=str(tmp_path), FIRELINE_EGRESS_ALLOW_PRIVATE="nonsense")
    result = _run(env, "db", "upgrade")
    assert result.returncode == 2
    assert "FIRELINE_EGRESS_ALLOW_PRIVATE" in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_first_start_prints_a_working_admin_key(tmp_path: Path) -> None:
    """What `make run` does on a fresh machine: SQLite in FIRELINE_HOME, owner bootstrap."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env["FIRELINE_HOME"] = str(tmp_path / "home")
    port = _free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "fireline", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        key = _check_first_start(process, port, tmp_path)
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert key not in stderr


def test_serve_on_a_taken_port_says_so_and_keeps_the_first_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")}
    env["FIRELINE_HOME"] = str(tmp_path / "home")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = subprocess.run([sys.executable, "-m", "fireline", "serve", "--port", str(port)],
                                 env=env, capture_output=True, text=True, timeout=60,
                                 check=False)
    assert refused.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in refused.stderr
    assert f"make run PORT={port + 1}" in refused.stderr
    assert "password" not in refused.stdout + refused.stderr
    # Nothing was bootstrapped: the next start still shows the one-time sign-in.
    port = _free_port()
    with subprocess.Popen([sys.executable, "-m", "fireline", "serve", "--port", str(port)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        _check_first_start(process, port, tmp_path)
        process.terminate()
        process.communicate(timeout=30)


def _check_first_start(process: subprocess.Popen[str], port: int, tmp_path: Path) -> str:
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        assert lines[0].strip() == f"Fireline is running on http://127.0.0.1:{port}"
        assert "owner@fireline.local" in lines[1]
        key = lines[2].split("Admin API key:")[1].strip()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        me = httpx.get(f"{base}/api/users/me", headers={"Authorization": f"Token token={key}"})
        assert me.status_code == 200 and me.json()["user"]["role"] == "owner"
        # Without FIRELINE_BASE_URL, links name the address actually served.
        assert me.json()["user"]["self"].startswith(f"{base}/api/users/")
        key_file = tmp_path / "home" / "master.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        return key
    except BaseException:
        process.kill()
        raise


def test_cli_oauth_apps_create_prints_the_client_once(cli_env: dict[str, str]) -> None:
    import json

    no_owner = _run(cli_env, "oauth-apps", "create", "--name", "VectorShift",
                    "--redirect-uri", "https://app.example.com/cb")
    assert no_owner.returncode == 2 and "No account owner" in no_owner.stderr
    assert _run(cli_env, "users", "create", "--email", "owner@example.com", "--name", "Owner",
                "--role", "owner").returncode == 0
    made = _run(cli_env, "oauth-apps", "create", "--name", "VectorShift",
                "--redirect-uri", "https://app.example.com/cb",
                "--redirect-uri", "https://app.example.com/cb2", "--scope", "write")
    assert made.returncode == 0, made.stderr
    app = json.loads(made.stdout)
    assert app["client_id"] and app["client_secret"]
    assert app["redirect_uris"] == ["https://app.example.com/cb", "https://app.example.com/cb2"]
    assert app["scopes"] == ["write"]
    public = json.loads(_run(cli_env, "oauth-apps", "create", "--name", "CLI tool", "--public",
                             "--redirect-uri", "http://127.0.0.1/callback").stdout)
    assert public["public"] is True and "client_secret" not in public
    refused = _run(cli_env, "oauth-apps", "create", "--name", "Bad",
                   "--redirect-uri", "http://app.example.com/cb")
    assert refused.returncode == 2 and "loopback" in refused.stderr


def test_cli_reset_password_gives_a_new_sign_in(cli_env: dict[str, str]) -> None:
    assert _run(cli_env, "users", "create", "--email", "ana@example.com", "--name", "Ana",
                "--role", "owner", "--password-stdin", stdin="the first password\n"
                ).returncode == 0
    reset = _run(cli_env, "users", "reset-password", "--email", "ana@example.com")
    assert reset.returncode == 0, reset.stderr
    printed = reset.stdout.strip()
    assert len(printed) >= 12
    chosen = _run(cli_env, "users", "reset-password", "--email", "ana@example.com",
                  "--password-stdin", stdin="a chosen long password\n")
    assert chosen.returncode == 0 and chosen.stdout == ""
    short = _run(cli_env, "users", "reset-password", "--email", "ana@example.com",
                 "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least" in short.stderr
    missing = _run(cli_env, "users", "reset-password", "--email", "nobody@example.com")
    assert missing.returncode == 2 and "No user" in missing.stderr
