"""OAuth 2.0: a Bearer-token request vs the same request with an API key, and refresh-token
rotations vs the database's own commit rate — same app, same database, one run.

1. `GET /api/users/me` (the request authentication dominates) and `GET /api/incidents?limit=25`
   (30 incidents) with `Authorization: Bearer …` against the same requests with
   `Authorization: Token token=…`, for the same user; the two alternate, round by round, and
   each rate is the median of the rounds. Target: Bearer at ≥ 0.9 of API key.
   Steady state: a Bearer request may schedule a "last used" write (service.note_use) at most
   once a minute per grant. The token is issued just before the measurement (issuing sets
   `last_used_at`), so these requests read only — as every request but one a minute does for a
   client that keeps calling. The writes that did happen are counted and printed.
2. Refresh-token rotations: `POST /oauth/token grant_type=refresh_token`, one chain, each with
   the refresh token the previous one returned (so one at a time), against the database's
   single-row commit rate: one-row UPDATE transactions through the same `Database` class
   (core/db.py), as bench_engine.py measures it, on the same database; alternating rounds,
   medians.

Both run with the app in this process on asyncio, called as an ASGI app by a lean driver
(tokens are obtained through httpx's ASGITransport, as tests/oauth does, but it costs about
1 ms of CPU a request, half of the request's own, and would blur the difference; the CPU
per request of each side is printed too, steadier than rates on a shared machine), then
served: uvicorn in its own process (`fireline.app:app_from_env`, as bench_auth_request.py;
uvicorn picks uvloop and httptools, as `fireline serve` does), driven over HTTP by
bench/_runner.py's client. The served configuration prints last; the last line is the
Bearer-vs-API-key ratio of `/api/users/me` as served.

`python bench/bench_oauth.py [--postgres URL]` — SQLite by default.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import re
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bench._runner import (
    BENCH_EMAIL,
    Call,
    _exchange,
    bench_home,
    commits_per_second,
    create_commit_table,
    free_port,
    report,
    server,
    throughput,
    uvicorn_argv,
)
from fireline.accounts import service as accounts
from fireline.app import create_app
from fireline.core.db import Database
from fireline.oauth import service as oauth
from fireline.oauth.models import OAuthGrant, OAuthToken
from fireline.settings import Settings

ISSUER = "https://fireline.bench"  # OAuth wants TLS: the issuer (Authlib's view) is https
REDIRECT_URI = "https://app.example.com/oauth/callback"
PASSWORD = "bench password, long enough"
INCIDENTS = 30
CONCURRENCY = 8
WORKLOADS = {"users_me": "/api/users/me", "incidents_list": "/api/incidents?limit=25"}


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str

    def refresh_form(self, refresh_token: str) -> bytes:
        return urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token,
                          "client_id": self.client_id,
                          "client_secret": self.client_secret}).encode()


# --- setup: an app, a person who authorizes it, tokens (the code flow of tests/oauth) ---------


async def _set_up(db: Database, settings: Settings, api_key: str) -> Client:
    """30 incidents on a service, the bench user's password, and an app to authorize."""
    async with db.transaction() as session:
        await accounts.reset_password(session=session, email=BENCH_EMAIL, password=PASSWORD)
        admin = await accounts.get_user_by_email(session=session, email=BENCH_EMAIL)
        app, secret = await oauth.create_app(session=session, actor=admin, data=oauth.NewApp(
            name="Bench app", redirect_uris=[REDIRECT_URI]))
    assert secret is not None
    application = create_app(settings, database=db)
    headers = {"Authorization": f"Token token={api_key}", "From": BENCH_EMAIL}
    try:
        async with _http(application) as http:
            service = await http.post("/api/services", headers=headers,
                                      json={"service": {"name": "Bench"}})
            service.raise_for_status()
            for index in range(INCIDENTS):
                created = await http.post("/api/incidents", headers=headers, json={"incident": {
                    "type": "incident", "title": f"Bench incident {index}",
                    "service": {"id": service.json()["service"]["id"],
                                "type": "service_reference"}}})
                created.raise_for_status()
    finally:
        await application.state.tools.aclose()
    return Client(app.client_id, secret)


def _http(application: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url=ISSUER)


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()


async def _authorize(db: Database, settings: Settings, client: Client) -> dict[str, Any]:
    """One authorization (a new grant): sign in, allow on the consent page, exchange the code
    (S256 PKCE). Returns the token response."""
    application = create_app(settings, database=db)
    try:
        async with _http(application) as http:
            signed = await http.post("/login", data={"email": BENCH_EMAIL, "password": PASSWORD})
            assert signed.status_code == 303, signed.text
            verifier = secrets.token_urlsafe(48)
            query = urlencode({
                "client_id": client.client_id, "redirect_uri": REDIRECT_URI,
                "response_type": "code", "scope": "read", "state": "bench",
                "code_challenge": _challenge(verifier), "code_challenge_method": "S256"})
            page = await http.get(f"/oauth/authorize?{query}")
            assert page.status_code == 200, page.text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf is not None
            allowed = await http.post(f"/oauth/authorize?{query}", data={
                "csrf_token": csrf.group(1), "decision": "allow"})
            assert allowed.status_code == 303, allowed.text
            code = parse_qs(urlsplit(allowed.headers["location"]).query)["code"][0]
            issued = await http.post("/oauth/token", data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                "client_id": client.client_id, "client_secret": client.client_secret,
                "code_verifier": verifier})
            assert issued.status_code == 200, issued.text
            return dict(issued.json())
    finally:
        await application.state.tools.aclose()


async def _last_used(db: Database, access_token: str) -> Any:
    async with db.session(read_only=True) as session:
        return await session.scalar(
            select(OAuthGrant.last_used_at).join(OAuthToken, OAuthToken.grant_id == OAuthGrant.id)
            .where(OAuthToken.access_hash == hashlib.sha256(access_token.encode()).hexdigest()))


# --- in process: the ASGI app called directly ------------------------------------------------


def _scope(method: str, target: str, headers: dict[str, str]) -> dict[str, Any]:
    path, _, query = target.partition("?")
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "https", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "client": ("127.0.0.1", 50000),
        "server": ("fireline.bench", 443),
        "headers": [(b"host", b"fireline.bench"),
                    *((k.lower().encode(), v.encode()) for k, v in headers.items())],
    }


async def _asgi(application: Any, method: str, target: str, headers: dict[str, str],
                body: bytes = b"") -> tuple[int, bytes]:
    status = 0
    chunks: list[bytes] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # nothing more: a disconnect never comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await application(_scope(method, target, headers), receive, send)
    return status, b"".join(chunks)


async def _asgi_rate(application: Any, target: str, headers: dict[str, str],
                     seconds: float, cpu: list[float] | None = None) -> float:
    """Requests per second; appends this process's CPU µs per request to `cpu` (SQLite's
    thread included): less swayed than the rate by other work on a shared machine."""
    done = 0
    stop = time.perf_counter() + seconds
    cpu_started = time.process_time()

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            status, body = await _asgi(application, "GET", target, headers)
            if status >= 400:
                raise RuntimeError(f"{status}: {body[:200]!r}")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    if cpu is not None:
        cpu.append((time.process_time() - cpu_started) / max(done, 1) * 1e6)
    return done / (time.perf_counter() - started)


def _order(round_: int) -> tuple[str, str]:
    """Which side goes first alternates by round: drift on a shared machine favours neither."""
    return ("bearer", "api_key") if round_ % 2 == 0 else ("api_key", "bearer")


_FORM_HEADERS = {"content-type": "application/x-www-form-urlencoded"}


async def _refresh_chain(post: Callable[[bytes], Awaitable[tuple[int, bytes]]], client: Client,
                         chain: list[str], seconds: float) -> float:
    """Rotations per second, one after another; `chain[0]` holds the current refresh token."""
    done = 0
    stop = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < stop:
        status, body = await post(client.refresh_form(chain[0]))
        if status != 200:
            raise RuntimeError(f"refresh: {status}: {body[:200]!r}")
        chain[0] = json.loads(body)["refresh_token"]
        done += 1
    return done / (time.perf_counter() - started)


class _TouchCounter:
    """Counts the "last used" writes Bearer requests schedule (service.note_use → _touch)."""

    def __init__(self) -> None:
        self.count = 0
        self._touch = oauth._touch

    async def __call__(self, database: Database, grant_id: str) -> None:
        self.count += 1
        await self._touch(database, grant_id)


async def _in_process(settings: Settings, api_key: str, client: Client, rounds: int,
                      seconds: float) -> dict[str, Any]:
    db = Database(settings.database_url)
    try:
        await create_commit_table(db)
        refresh = [str((await _authorize(db, settings, client))["refresh_token"])]
        access = str((await _authorize(db, settings, client))["access_token"])
        application = create_app(settings, database=db)
        touches = _TouchCounter()
        oauth._touch = touches  # type: ignore[assignment]
        sides = {"bearer": {"Authorization": f"Bearer {access}"},
                 "api_key": {"Authorization": f"Token token={api_key}"}}
        rates: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}

        async def post(body: bytes) -> tuple[int, bytes]:
            return await _asgi(application, "POST", "/oauth/token", _FORM_HEADERS, body)

        try:
            for target in WORKLOADS.values():  # warm both up: imports, caches, pool
                for headers in sides.values():
                    await _asgi_rate(application, target, headers, 0.3)
            await _refresh_chain(post, client, refresh, 0.3)
            await commits_per_second(db, 0.3)
            for round_ in range(rounds):
                for name, target in WORKLOADS.items():
                    for side in _order(round_):
                        rates.setdefault((name, side), []).append(await _asgi_rate(
                            application, target, sides[side], seconds,
                            cpu.setdefault((name, side), [])))
                rates.setdefault(("refresh", "fireline"), []).append(
                    await _refresh_chain(post, client, refresh, seconds))
                rates.setdefault(("refresh", "commit"), []).append(
                    await commits_per_second(db, seconds))
        finally:
            oauth._touch = touches._touch  # type: ignore[method-assign]
            await application.state.tools.aclose()
        await asyncio.sleep(0.1)  # a scheduled "last used" write finishes
        return {"rates": rates, "touches": touches.count, "cpu": cpu}
    finally:
        await db.dispose()


# --- served: uvicorn in its own process (uvloop), over HTTP ----------------------------------


async def _served_refresh(base: str, client: Client, chain: list[str], seconds: float) -> float:
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))

    async def post(body: bytes) -> tuple[int, bytes]:
        head = ("POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        return await _exchange(reader, writer, head + body)

    try:
        return await _refresh_chain(post, client, chain, seconds)
    finally:
        writer.close()


async def _served_commits(url: str, seconds: float) -> float:
    db = Database(url)  # the same database file; its own engine, in this process
    try:
        await commits_per_second(db, 0.1)
        return await commits_per_second(db, seconds)
    finally:
        await db.dispose()


def _served(env: dict[str, str], settings: Settings, api_key: str, client: Client,
            rounds: int, seconds: float) -> dict[str, Any]:
    async def tokens() -> tuple[str, str]:
        db = Database(settings.database_url)
        try:
            refresh = str((await _authorize(db, settings, client))["refresh_token"])
            return refresh, str((await _authorize(db, settings, client))["access_token"])
        finally:
            await db.dispose()

    async def last_used(access_token: str) -> Any:
        db = Database(settings.database_url)
        try:
            return await _last_used(db, access_token)
        finally:
            await db.dispose()

    port = free_port()
    with server(uvicorn_argv("fireline.app:app_from_env", port, factory=True), env,
                port) as base:
        refresh_token, access = asyncio.run(tokens())
        refresh = [refresh_token]
        issued_last_used = asyncio.run(last_used(access))
        sides = {"bearer": {"Authorization": f"Bearer {access}"},
                 "api_key": {"Authorization": f"Token token={api_key}"}}
        rates: dict[tuple[str, str], list[float]] = {}
        for round_ in range(rounds):
            for name, target in WORKLOADS.items():
                for side in _order(round_):
                    rates.setdefault((name, side), []).append(throughput(
                        Call("GET", target, sides[side]), base_url=base, seconds=seconds,
                        concurrency=CONCURRENCY, warmup=0.1))
            rates.setdefault(("refresh", "fireline"), []).append(
                asyncio.run(_served_refresh(base, client, refresh, seconds)))
            rates.setdefault(("refresh", "commit"), []).append(
                asyncio.run(_served_commits(settings.database_url, seconds)))
        touched = asyncio.run(last_used(access)) != issued_last_used
    return {"rates": rates, "touches": int(touched)}


# --- the report ------------------------------------------------------------------------------


def _report(label: str, result: dict[str, Any], backend: str) -> None:
    median = {key: statistics.median(values) for key, values in result["rates"].items()}
    spread = {key: f"{min(values):.0f}-{max(values):.0f}"
              for key, values in result["rates"].items()}
    print(f"[{label}] rounds (min-max): " + ", ".join(
        f"{name}/{side} {spread[name, side]}" for name, side in median))
    print(f"[{label}] last-used writes during the Bearer requests: {result['touches']} "
          "(at most one a minute per grant; the steady state reads only)")
    if "cpu" in result:
        cpu = {key: statistics.median(values) for key, values in result["cpu"].items()}
        print(f"[{label}] CPU per request (median): " + ", ".join(
            f"{name} bearer {cpu[name, 'bearer']:.0f} µs vs API key {cpu[name, 'api_key']:.0f} µs"
            for name in WORKLOADS))
    ratios = {name: median[name, "bearer"] / median[name, "api_key"] for name in WORKLOADS}
    refresh = median["refresh", "fireline"] / median["refresh", "commit"]
    print(f"[{label}] bearer_vs_api_key={ratios['users_me']:.2f} "
          f"(incidents list {ratios['incidents_list']:.2f}) refresh_vs_commit={refresh:.2f}")
    report(f"oauth_refresh_vs_commit_{label}_{backend}", median["refresh", "fireline"],
           median["refresh", "commit"], unit="/s")
    for name in reversed(WORKLOADS):  # /api/users/me last: the headline
        report(f"oauth_bearer_vs_api_key_{name}_{label}_{backend}", median[name, "bearer"],
               median[name, "api_key"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL")
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    backend = "postgres" if args.postgres else "sqlite"
    extra = {"FIRELINE_DATABASE_URL": args.postgres} if args.postgres else {}
    with bench_home(FIRELINE_BASE_URL=ISSUER, **extra) as (env, key):
        settings = Settings.from_env(env)

        async def set_up() -> Client:
            db = Database(settings.database_url)
            try:
                return await _set_up(db, settings, key)
            finally:
                await db.dispose()

        client = asyncio.run(set_up())
        in_process = asyncio.run(_in_process(settings, key, client, args.rounds, args.seconds))
        served = _served(env, settings, key, client, args.rounds, args.seconds)
    print("ceiling of refresh_vs_commit: one-row UPDATE transactions through core/db.py's "
          "Database on the same database (bench_engine.py's commit rate); a rotation is one "
          "write transaction too (spend the old token, insert the new, stamp the grant)")
    _report("asyncio_in_process", in_process, backend)
    _report("uvloop_served", served, backend)  # the served configuration last


if __name__ == "__main__":
    main()
