"""Workflow tests run against an app whose egress reaches the fake Elasticsearch over TLS
(the connections tests' fixtures), and drive the engine by calling it directly."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ConfigDict, SecretStr

from fireline.core.db import Database
from fireline.core.errors import (
    CredentialError,
    PermanentError,
    TransientError,
)
from fireline.integrations import registry
from fireline.integrations.base import (
    Action,
    ConnectionSecrets,
    Destination,
    Integration,
    NoConfig,
    ToolContext,
)
from fireline.workflows.engine import Engine
from tests.conftest import Actor
from tests.connections.conftest import ES_HOST, ES_KEY, app, ca, es, settings  # noqa: F401
from tests.incidents.helpers import create_incident, create_service

ES_CONNECTIONS = "/api/workflows/integrations/elasticsearch/connections"
WORKFLOWS = "/api/incident_workflows"


@pytest.fixture
def engine(app, db: Database) -> Engine:  # type: ignore[no-untyped-def]  # noqa: F811
    return Engine(db=db, tools=app.state.tools, worker_id="worker-a")


async def es_connection(
    http: httpx.AsyncClient, actor: Actor, name: str = "Prod logs", **extra: Any
) -> dict[str, Any]:
    body = {"connection": {"name": name, "configuration": {"url": f"https://{ES_HOST}:9200"},
                           "secrets": {"api_key": ES_KEY}, **extra}}
    response = await http.post(ES_CONNECTIONS, json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    return response.json()["connection"]  # type: ignore[no-any-return]


async def save_workflow(
    http: httpx.AsyncClient, actor: Actor, definition: dict[str, Any]
) -> httpx.Response:
    return await http.post(WORKFLOWS, json={"incident_workflow": definition},
                             headers=actor.headers)


async def incident(http: httpx.AsyncClient, admin: Actor, title: str = "Disk full",
                   **fields: Any) -> dict[str, Any]:
    service = await create_service(http, admin, name=f"svc-{title[:20]}")
    response = await create_incident(http, admin, service["id"], title=title, **fields)
    assert response.status_code == 201, response.text
    return response.json()["incident"]  # type: ignore[no-any-return]


async def start(http: httpx.AsyncClient, actor: Actor, workflow_id: str, incident_id: str
                ) -> httpx.Response:
    return await http.post(
        f"{WORKFLOWS}/{workflow_id}/instances", headers=actor.headers,
        json={"incident_workflow_instance": {"incident": {"id": incident_id,
                                                          "type": "incident_reference"}}})


async def run_detail(http: httpx.AsyncClient, actor: Actor, run_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/incident_workflow_runs/{run_id}", headers=actor.headers)
    assert response.status_code == 200, response.text
    return response.json()["incident_workflow_run"]  # type: ignore[no-any-return]


# A scripted tool: its actions fail as each call's input says, attempt by attempt, so the
# engine's failure handling can be driven exactly. Registered only for the tests using it.
class ScriptInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # What attempt n does: "ok", "transient", "retry_after", "unknown", "credential",
    # "permanent", "slow", "gate" (waits inside the tool until the test opens the gate);
    # attempts past the list succeed.
    script: list[str] = []
    label: str = ""
    echo_secret: bool = False  # the tool echoes the credential back (SEC-1 tests)


class ScriptOutput(BaseModel):
    key: str
    label: str
    attempt: int


class Scripted:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.labels: list[tuple[str, str]] = []
        self.gate = asyncio.Event()
        self.inside = 0  # calls waiting at the gate now
        self.most_inside = 0

    async def run(self, ctx: ToolContext, data: ScriptInput) -> ScriptOutput:
        key = str(ctx.idempotency_key)
        self.calls[key] += 1
        attempt = self.calls[key]
        self.labels.append((key, data.label))
        kind = data.script[attempt - 1] if attempt <= len(data.script) else "ok"
        if data.echo_secret:
            token = ctx.secrets.token.get_secret_value()
            if kind == "permanent":
                raise PermanentError(f"rejected request with token {token}")
            return ScriptOutput(key=key, label=f"token={token}", attempt=attempt)
        if kind == "transient":
            raise TransientError("tool busy")
        if kind == "retry_after":
            raise TransientError("tool says later", retry_after=120)
        if kind == "unknown":
            raise TransientError("timed out after sending", outcome_unknown=True)
        if kind == "credential":
            raise CredentialError("token revoked")
        if kind == "permanent":
            raise PermanentError("bad request")
        if kind == "slow":
            await asyncio.sleep(30)
        if kind == "gate":
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
            try:
                await self.gate.wait()
            finally:
                self.inside -= 1
        return ScriptOutput(key=key, label=data.label, attempt=attempt)


class ScriptSecrets(ConnectionSecrets):
    token: SecretStr | None = None


async def _verify(ctx: ToolContext) -> str:
    return "ok"


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Scripted:
    tool = Scripted()
    integration = Integration(
        slug="scripted", title="Scripted", description="test tool", config=NoConfig,
        secrets=ScriptSecrets, destination=lambda _c: Destination(hosts=("scripted.example",)),
        verify=_verify,
        actions=(
            Action("call", "Call", ScriptInput, ScriptOutput, True, tool.run),
            Action("create", "Create", ScriptInput, ScriptOutput, False, tool.run),
        ),
    )
    monkeypatch.setitem(registry._BY_SLUG, "scripted", integration)
    return tool


async def scripted_connection(http: httpx.AsyncClient, actor: Actor, token: str | None = None,
                              **extra: Any) -> str:
    response = await http.post(
        "/api/workflows/integrations/scripted/connections", headers=actor.headers,
        json={"connection": {"name": "Scripted", "configuration": {},
                             "secrets": {"token": token} if token else {},
                             "is_default": True, **extra}})
    assert response.status_code == 201, response.text
    return str(response.json()["connection"]["id"])


from tests.loops import pytest_asyncio_loop_factories  # noqa: E402, F401  (both event loops)
