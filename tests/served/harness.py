"""`fireline serve` as `make run` starts it, in a subprocess, driven only over HTTP.

`Served.start` migrates a temp `FIRELINE_HOME` with `fireline db upgrade`, then runs
`fireline serve --port P` (uvicorn on uvloop, workers and scheduler in the same process, as
`make run` does) and reads the owner's sign-in and the admin API key it prints on first start.
With a PostgreSQL URL and `workers=False` it runs `fireline serve --no-workers` beside a
separate `fireline worker` process (scale-out). With `tls=CA` it serves HTTPS (`--tls-cert`,
`--tls-key`) with a certificate for 127.0.0.1 issued by that CA, which `verify` trusts.

The tools are the local fakes of `tests/integrations/fakes`, reached by their real host names:
`FIRELINE_EGRESS_CONNECT_TO` sends each (host, port) to the fake's loopback port, whose
certificate names the real host and is trusted through `FIRELINE_EGRESS_CA_BUNDLE`.
"""

from __future__ import annotations

import html
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trustme

from fireline.accounts.permissions import SESSION_COOKIE, csrf_token_for
from fireline.accounts.roles import BaseRole, TeamRole

BIN = Path(sys.executable).parent / "fireline"
START_TIMEOUT = 60.0
TERMINAL = {"succeeded", "failed", "cancelled", "needs_attention"}
PD_ACCEPT = "application/vnd.pagerduty+json;version=2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect_to(routes: Mapping[tuple[str, int], int]) -> str:
    """`FIRELINE_EGRESS_CONNECT_TO` for routes (host, port) → a fake's loopback port."""
    return ",".join(f"{host}:{port}=127.0.0.1:{target}" for (host, port), target in routes.items())


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 30.0,
               interval: float = 0.2) -> Any:
    """Polls `probe` until it returns something truthy; fails the test with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


@dataclass
class Served:
    base_url: str
    home: Path
    env: dict[str, str]
    api_key: str
    owner_email: str
    owner_password: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # What clients pass as `verify`: the CA's trust for an HTTPS instance.
    verify: ssl.SSLContext | bool = True
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=60, verify=self.verify, headers={
            "Authorization": f"Token token={self.api_key}", "Accept": PD_ACCEPT,
            "From": self.owner_email})

    @classmethod
    @contextmanager
    def start(cls, env: Mapping[str, str], *, workers: bool = True,
              tls: trustme.CA | None = None, after: Served | None = None
              ) -> Iterator[Served]:
        """`after`: an earlier (stopped or killed) instance, restarted on its FIRELINE_HOME;
        it prints no sign-in again, the earlier one's owner and API key stay."""
        home = after.home if after else Path(tempfile.mkdtemp(prefix="fireline-served-"))
        port = free_port()
        base_url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FIRELINE_")},
            "FIRELINE_HOME": str(home), "FIRELINE_BASE_URL": base_url, **env,
        }
        subprocess.run([str(BIN), "db", "upgrade"], env=full_env, check=True,
                       capture_output=True, timeout=120)
        log = home / ("serve.restarted.log" if after else "serve.log")
        command = [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(port)]
        verify: ssl.SSLContext | bool = True
        if tls is not None:
            cert = tls.issue_cert("127.0.0.1")
            cert.cert_chain_pems[0].write_to_path(str(home / "server.pem"))
            cert.private_key_pem.write_to_path(str(home / "server.key"))
            command += ["--tls-cert", str(home / "server.pem"),
                        "--tls-key", str(home / "server.key")]
            verify = ssl.create_default_context()
            tls.configure_trust(verify)
        processes = [spawn([*command, *([] if workers else ["--no-workers"])], full_env, log)]
        if not workers:
            processes.append(spawn([str(BIN), "worker"], full_env, home / "worker.log"))
        try:
            printed = wait_until("fireline serve to answer /healthz",
                                 lambda: _ready(base_url, log, verify),
                                 timeout=START_TIMEOUT)
            if after is not None:
                api_key, email, password = after.api_key, after.owner_email, after.owner_password
            else:
                owner = re.search(r"sign in as (\S+) with password (\S+)", printed)
                key = re.search(r"Admin API key: (\S+)", printed)
                assert owner and key, printed
                api_key, email, password = key[1], owner[1], owner[2]
            served = cls(base_url=base_url, home=home, env=full_env, api_key=api_key,
                         owner_email=email, owner_password=password, processes=processes,
                         verify=verify)
            try:
                yield served
            finally:
                served.http.close()
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def kill(self) -> None:
        """SIGKILL of every process: nothing of theirs runs after this (no clean-up)."""
        for process in self.processes:
            process.kill()
            process.wait()

    def log(self) -> str:
        names = ("serve.log", "serve.restarted.log", "worker.log")
        return "\n".join((self.home / name).read_text(errors="replace")
                         for name in names if (self.home / name).exists())

    # --- the REST API, as any client would use it -------------------------------------------

    def create_connection(self, tool: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(f"/api/workflows/integrations/{tool}/connections",
                              json={"connection": body})

    def connections(self, tool: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/api/workflows/integrations/{tool}/connections")
        assert response.status_code == 200, response.text
        return response.json()["connections"]  # type: ignore[no-any-return]

    def connection(self, tool: str, connection_id: str) -> dict[str, Any]:
        response = self.http.get(f"/api/workflows/integrations/{tool}/connections/{connection_id}")
        assert response.status_code == 200, response.text
        return response.json()["connection"]  # type: ignore[no-any-return]

    def health_checks(self, tool: str, connection_id: str) -> list[dict[str, Any]]:
        response = self.http.get(
            f"/api/workflows/integrations/{tool}/connections/{connection_id}/health_checks")
        assert response.status_code == 200, response.text
        return response.json()["health_checks"]  # type: ignore[no-any-return]

    def wait_for_periodic_check(self, tool: str, connection_id: str) -> dict[str, Any]:
        """The first check the monitor made on its own (not the one on create)."""
        def periodic() -> dict[str, Any] | None:
            checks = self.health_checks(tool, connection_id)
            return next((c for c in checks if c["trigger"] == "periodic"), None)

        return wait_until(f"a periodic health check of {tool}", periodic)  # type: ignore[no-any-return]

    def incident(self, title: str) -> dict[str, Any]:
        service = self.http.post("/api/services", json={"service": {"name": f"svc {title}"}})
        assert service.status_code == 201, service.text
        response = self.http.post("/api/incidents", json={"incident": {
            "type": "incident", "title": title,
            "service": {"id": service.json()["service"]["id"], "type": "service_reference"}}})
        assert response.status_code == 201, response.text
        return response.json()["incident"]  # type: ignore[no-any-return]

    def save_workflow(self, definition: dict[str, Any]) -> str:
        """A new workflow's id (manual unless the definition gives a trigger)."""
        saved = self.http.post("/api/incident_workflows", json={"incident_workflow": {
            "trigger": {"type": "manual"}, **definition}})
        assert saved.status_code == 201, saved.text
        return str(saved.json()["incident_workflow"]["id"])

    def run_workflow(self, definition: dict[str, Any], *, title: str,
                     timeout: float = 60.0) -> dict[str, Any]:
        """Saves a manual workflow, starts it on a new incident, and waits for its end."""
        run_id = self.start_run(self.save_workflow(definition), self.incident(title)["id"])
        return self.wait_for_run(run_id, timeout=timeout)

    def start_run(self, workflow_id: str, incident_id: str) -> str:
        """Starts a workflow by hand on an incident; the run's id."""
        started = self.http.post(f"/api/incident_workflows/{workflow_id}/instances", json={
            "incident_workflow_instance": {
                "incident": {"id": incident_id, "type": "incident_reference"}}})
        assert started.status_code in (200, 201, 202), started.text
        return str(started.json()["incident_workflow_instance"]["id"])

    def run(self, run_id: str) -> dict[str, Any]:
        found = self.http.get(f"/api/incident_workflow_runs/{run_id}")
        assert found.status_code == 200, found.text
        return found.json()["incident_workflow_run"]  # type: ignore[no-any-return]

    def wait_for_run(self, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """The run once it has ended."""
        def ended() -> dict[str, Any] | None:
            body = self.run(run_id)
            return body if body["status"] in TERMINAL else None

        return wait_until(f"run {run_id} to end", ended, timeout=timeout)  # type: ignore[no-any-return]

    def browser(self) -> httpx.Client:
        """The owner signed in to the web app: session cookie, and the CSRF header pages send."""
        browser = httpx.Client(base_url=self.base_url, timeout=60, follow_redirects=False,
                               verify=self.verify)
        signed_in = browser.post("/login", data={"email": self.owner_email,
                                                 "password": self.owner_password},
                                 headers={"Origin": self.base_url})
        assert signed_in.status_code in (200, 302, 303), signed_in.text
        browser.headers["X-CSRF-Token"] = csrf_token_for(browser.cookies[SESSION_COOKIE])
        return browser

    # --- the owner's Settings forms, for set-up the REST API (like PagerDuty's) has no call for

    def add_team(self, name: str) -> str:
        """A new team's id."""
        with closing(self.browser()) as browser:
            made = browser.post("/settings/teams", data={"name": name})
        assert made.status_code == 303, made.text
        return made.headers["location"].rpartition("/")[2]

    def add_user(self, name: str, email: str,
                 role: BaseRole = BaseRole.RESPONDER) -> tuple[str, str]:
        """A new user's id and the initial password the owner is shown once."""
        with closing(self.browser()) as browser:
            made = browser.post("/settings/users/new",
                                data={"name": name, "email": email, "role": role.value})
        assert made.status_code == 200, made.text
        shown = re.search(r'id="initial-password"[^>]*>([^<]+)<', made.text)
        assert shown, made.text
        found = self.http.get("/api/users", params={"query": email}).json()["users"]
        return found[0]["id"], html.unescape(shown.group(1))

    def add_team_manager(self, team: str) -> tuple[str, str, str]:
        """A new team and its new manager: the team's id, the manager's email and password."""
        team_id = self.add_team(team)
        email = f"manager-{team_id.lower()}@example.com"
        user_id, password = self.add_user(f"Manager of {team}", email)
        self.add_member(team_id, user_id, TeamRole.MANAGER)
        return team_id, email, password

    def add_member(self, team_id: str, user_id: str, role: TeamRole) -> None:
        with closing(self.browser()) as browser:
            added = browser.post(f"/teams/{team_id}/members",
                                 data={"user_id": user_id, "role": role.value})
        assert added.status_code == 303, added.text


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _ready(base_url: str, log: Path, verify: ssl.SSLContext | bool = True) -> str | None:
    try:
        httpx.get(f"{base_url}/healthz", timeout=1, verify=verify).raise_for_status()
    except httpx.HTTPError:
        if "Traceback" in log.read_text(errors="replace"):
            raise AssertionError(f"fireline serve failed to start:\n{log.read_text()}") from None
        return None
    return log.read_text(errors="replace")
