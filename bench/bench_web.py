"""The web app's Workflow Integrations tool page vs the JSON list of the same connections on the
same served process, with a bare Starlette + Jinja2 page as the floor of the stack.

1. fireline: `GET /integrations/workflow-integrations/elasticsearch` — the tool's connections
   table (name, status and last check, default, teams, SRE agent, the row actions), signed in
   with the session cookie the sign-in form set, 20 connections stored.
2. ceiling: `GET /api/workflows/integrations/elasticsearch/connections?limit=25` — the same 20
   connections as JSON, with the admin API key, on the same process: the same database reads
   (the caller, the connections, their teams) without the page's templates and layout.
3. peer: a plain Starlette app rendering an equivalent page (the same layout, columns and row
   actions) with Jinja2 from 20 rows in memory, the session cookie looked up in a dict — what
   a server-rendered page costs on this stack (uvicorn, uvloop, httptools) before any
   Fireline work. Printed as an extra line.

Fireline runs as `make run` serves it: `fireline serve` in a subprocess (uvicorn on uvloop,
workers and scheduler in the process), started by tests/served/harness.py's `Served.start`,
which reads the owner's sign-in and the admin API key it prints. Only the REST limit is
raised (the benchmark measures the request path, not the limiter). The connections are
created through the REST API, each verified on save against tests/integrations/fakes'
Elasticsearch, reached by its real host name (`FIRELINE_EGRESS_CONNECT_TO`); the fake stays up,
idle, while the pages are measured (periodic checks are 5 minutes apart).

The three alternate round by round, driven by bench/_runner.py's lean keep-alive client
(8 concurrent connections, the same for all three); each rate is the median of the rounds.
The served process's CPU per request is printed for the page and the JSON, steadier than the
rates on a shared two-core machine. The last line is the page's ratio to the JSON list.

`python bench/bench_web.py [--seconds S] [--rounds N]`
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import trustme
from jinja2 import DictLoader, Environment
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from tests.integrations.fakes import elasticsearch as fake_elasticsearch
from tests.integrations.support import serve
from tests.served.harness import Served, connect_to

from bench._runner import (
    Call,
    cli,
    fireline_env,
    free_port,
    report,
    server,
    throughput,
    uvicorn_argv,
)
from fireline.accounts.permissions import SESSION_COOKIE

CONNECTIONS = 20
TOOL = "elasticsearch"
HOST, PORT = "es.example.com", 9200  # the fake answers as this host (egress routes it)
API_KEY = fake_elasticsearch.api_key_pair("bench", "es-bench-key-3c9d51e8")
CONCURRENCY = 8
TEAMS = ("Payments", "Platform")
PAGE = f"/integrations/workflow-integrations/{TOOL}"
JSON_LIST = f"/api/workflows/integrations/{TOOL}/connections?limit=25"
SIDES = ("fireline", "json", "peer")


def connection(index: int) -> dict[str, Any]:
    """The index-th connection: one default, every other one for the SRE agent, every third
    scoped to a team (every sixth to both)."""
    return {"name": f"Logs cluster {index + 1:02d}", "is_default": index == 0,
            "allow_sre_agent": index % 2 == 0,
            "teams": list(TEAMS[:1 + (index % 6 == 0)]) if index % 3 == 0 else []}


# --- the peer: Starlette + Jinja2, no database -----------------------------------------------

PEER_SESSION = "bench-peer-session-5f1c0e7a9b2d4c68"
PEER_CSRF = hashlib.sha256(b"fireline-csrf:" + PEER_SESSION.encode()).hexdigest()
PEER_HEADERS = {
    "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self' https:; base-uri 'none'",
    "x-content-type-options": "nosniff", "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
PEER_TEMPLATES = {
    "base.html": """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{% block title %}{% endblock %}</title>
  <link rel="stylesheet" href="/static/app.css">
  <script src="/static/vendor/htmx.org/htmx.min.js" defer></script>
</head>
<body>
  <header class="topbar">
    <a class="brand" href="/">Fireline</a>
    <nav aria-label="Main"><ul class="menu">
      {% for label, target in navigation %}
      <li><a href="{{ target }}" {% if path.startswith(target) %}aria-current="page"{% endif %}
        >{{ label }}</a></li>
      {% endfor %}
    </ul></nav>
    <div class="account"><a href="/settings/profile">{{ user.name }}</a>
      <form method="post" action="/logout">
        <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
        <button type="submit" class="link">Sign out</button>
      </form></div>
  </header>
  <main id="main" tabindex="-1">{% block main %}{% endblock %}</main>
  <dialog id="modal" aria-labelledby="modal-title"><div id="modal-body"></div></dialog>
</body>
</html>""",
    "tool.html": """{% extends "base.html" %}
{% block title %}{{ title }} · Workflow Integrations · Fireline{% endblock %}
{% block main %}
<h1>{{ title }}</h1>
<a class="button" href="{{ root }}/connections/new" hx-get="{{ root }}/connections/new"
   hx-target="#modal-body">Add Connection</a>
<h2>Connections</h2>
<div id="connections" hx-get="{{ root }}/table" hx-trigger="every 15s" hx-swap="outerHTML">
<table>
  <caption class="muted">{{ title }} connections</caption>
  <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Default</th>
    <th scope="col">Who can edit or select</th><th scope="col">SRE Agent</th>
    <th scope="col"><span class="muted">Actions</span></th></tr></thead>
  <tbody>
  {% for row in rows %}
  {% set url = root ~ "/connections/" ~ row.id %}
  <tr id="connection-{{ row.id }}">
    <td><a href="{{ url }}">{{ row.name }}</a></td>
    <td><span class="badge healthy">{{ row.status }}</span>
      <br><span class="muted">checked <time datetime="{{ row.checked_at.isoformat() }}"
        >{{ row.checked_at.strftime("%Y-%m-%d %H:%M:%S UTC") }}</time></span></td>
    <td>{% if row.is_default %}<span class="badge healthy">Default</span>
      {%- else %}<span class="muted">No</span>{% endif %}</td>
    <td>{% if row.teams %}Admins, global managers and managers of {{ row.teams | join(", ") }}
      {%- else %}All admins and global managers{% endif %}</td>
    <td>{{ "Allowed" if row.allow_sre_agent else "Off" }}</td>
    <td><div class="actions">
        <form method="post" action="{{ url }}/verify" hx-post="{{ url }}/verify">
          <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
          <button type="submit" class="secondary" aria-label="Verify now: {{ row.name }}"
            >Verify now</button>
        </form>
        <a class="button secondary" href="{{ url }}/edit" hx-get="{{ url }}/edit"
           hx-target="#modal-body"
           aria-label="Edit {{ row.name }}">Edit</a>
        <a class="button danger" href="{{ url }}/delete" hx-get="{{ url }}/delete"
           hx-target="#modal-body"
           aria-label="Delete {{ row.name }}">Delete</a>
      </div></td>
  </tr>
  {% endfor %}
  </tbody>
</table>
</div>
{% endblock %}""",
}


def peer_app() -> Starlette:
    environment = Environment(loader=DictLoader(PEER_TEMPLATES), autoescape=True)
    template = environment.get_template("tool.html")
    sessions = {PEER_SESSION: {"name": "Bench Owner"}}
    checked_at = datetime.now(UTC).replace(microsecond=0)
    rows = [{**connection(index), "id": f"01PEER{index:020d}", "status": "Healthy",
             "checked_at": checked_at} for index in range(CONNECTIONS)]
    navigation = [("Incidents", "/incidents"), ("Services", "/services"),
                  ("Incident Workflows", "/incident_workflows"),
                  ("Workflow Integrations", "/integrations/workflow-integrations"),
                  ("Settings", "/settings")]

    async def tool_page(request: Request) -> Response:
        user = sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        if user is None:
            return RedirectResponse("/login", status_code=303)
        return HTMLResponse(template.render(
            title="Elasticsearch", root=PAGE, rows=rows, user=user, csrf_token=PEER_CSRF,
            navigation=navigation, path=request.url.path), headers=PEER_HEADERS)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route(PAGE, tool_page), Route("/healthz", healthz)])


# --- Fireline, served -----------------------------------------------------------------------


def _set_up(served: Served) -> str:
    """The teams and connections; returns the owner's session cookie, from the sign-in form."""
    team_ids = {name: cli(served.env, "teams", "create", "--name", name) for name in TEAMS}
    for index in range(CONNECTIONS):
        shape = connection(index)
        created = served.create_connection(TOOL, {
            **shape, "configuration": {"url": f"https://{HOST}:{PORT}"},
            "secrets": {"api_key": API_KEY},
            "teams": [{"team_id": team_ids[name], "type": "team_reference"}
                      for name in shape["teams"]]})
        assert created.status_code == 201, created.text
        assert created.json()["connection"]["health"]["status"] == "Healthy", created.text
    browser = served.browser()
    try:
        return str(browser.cookies[SESSION_COOKIE])
    finally:
        browser.close()


def _check(base: str, call: Call, marker: str) -> int:
    """One request by httpx before timing: the page is whole; returns its size in bytes."""
    response = httpx.get(base + call.path, headers=dict(call.headers), timeout=30)
    assert response.status_code == 200, response.text[:500]
    found = response.text.count(marker)
    assert found == CONNECTIONS, f"{base}{call.path}: {found} rows"
    return len(response.content)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(served: Served, cookie: str, peer_base: str, rounds: int,
             seconds: float) -> dict[str, Any]:
    page_headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", "Accept": "text/html"}
    calls = {"fireline": Call("GET", PAGE, page_headers),
             "json": Call("GET", JSON_LIST, {"Authorization": f"Token token={served.api_key}"}),
             "peer": Call("GET", PAGE, {"Cookie": f"{SESSION_COOKIE}={PEER_SESSION}",
                                        "Accept": "text/html"})}
    bases = {"fireline": served.base_url, "json": served.base_url, "peer": peer_base}
    sizes = {"fireline": _check(served.base_url, calls["fireline"], '<tr id="connection-'),
             "json": _check(served.base_url, calls["json"], '"workflow_integration_connection"'),
             "peer": _check(peer_base, calls["peer"], '<tr id="connection-')}
    pid = served.processes[0].pid
    rates: dict[str, list[float]] = {side: [] for side in SIDES}
    cpu: dict[str, list[float]] = {side: [] for side in SIDES[:2]}
    for side in SIDES:  # imports, template compilation, the pool
        throughput(calls[side], base_url=bases[side], seconds=0.5, concurrency=CONCURRENCY,
                   warmup=0.5)
    for round_ in range(rounds):
        # Which side goes first turns round by round: drift on a shared machine favours none.
        for side in SIDES[round_ % 3:] + SIDES[:round_ % 3]:
            cpu_started = _cpu_seconds(pid)
            started = time.perf_counter()
            rate = throughput(calls[side], base_url=bases[side], seconds=seconds,
                              concurrency=CONCURRENCY, warmup=0.2)
            rates[side].append(rate)
            if side in cpu:
                # The requests of the warm-up too: all that ran between the two readings.
                done = rate * (time.perf_counter() - started)
                cpu[side].append((_cpu_seconds(pid) - cpu_started) / done * 1e6)
    return {"rates": rates, "cpu": cpu, "sizes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fireline-bench-web-") as directory:
        tmp = Path(directory)
        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
        with serve(fake_elasticsearch.make_app(API_KEY, {}), ca, tmp, HOST) as fake:
            env = {"FIRELINE_EGRESS_ALLOW_PRIVATE": "127.0.0.0/8",
                   "FIRELINE_EGRESS_CA_BUNDLE": str(tmp / "ca.pem"),
                   "FIRELINE_EGRESS_CONNECT_TO": connect_to({(HOST, PORT): fake.port}),
                   "FIRELINE_REST_RATE_LIMIT_PER_MINUTE": "100000000"}
            peer_port = free_port()
            with Served.start(env) as served, \
                    server(uvicorn_argv("bench.bench_web:peer_app", peer_port, factory=True),
                           fireline_env(tmp), peer_port) as peer_base:
                try:
                    cookie = _set_up(served)
                    result = _measure(served, cookie, peer_base, args.rounds, args.seconds)
                finally:
                    shutil.rmtree(served.home, ignore_errors=True)
    _report(result)


def _report(result: dict[str, Any]) -> None:
    median = {side: statistics.median(values) for side, values in result["rates"].items()}
    cpu = {side: statistics.median(values) for side, values in result["cpu"].items()}
    print("rounds (min-max req/s): " + ", ".join(
        f"{side} {min(values):.0f}-{max(values):.0f}"
        for side, values in result["rates"].items()))
    print("response bytes: " + ", ".join(
        f"{side} {size}" for side, size in result["sizes"].items()))
    print(f"served process CPU per request (median): page {cpu['fireline']:.0f} µs, "
          f"JSON {cpu['json']:.0f} µs")
    print(f"peer (Starlette + Jinja2, no database, uvicorn on uvloop): {median['peer']:.1f}req/s")
    report("web_tool_page_vs_peer", median["fireline"], median["peer"])
    report("web_json_list_vs_peer", median["json"], median["peer"])
    report("web_tool_page", median["fireline"], median["json"])


if __name__ == "__main__":
    main()
