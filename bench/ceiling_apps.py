"""Bare FastAPI endpoints that do the same database work as Fireline's, without Fireline.

They are the ceilings the benchmarks compare against: same machine, same database file,
same driver, no middleware, no authorization layers, no PagerDuty shaping.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import Body, FastAPI, Header, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from fireline.core.db import Database
from fireline.incidents import listing
from fireline.settings import Settings

database = Database(Settings.from_env().database_url)
app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/api/users/me")
async def me(authorization: str = Header()) -> dict[str, object]:
    token = authorization.split("=", 1)[1]
    digest = hashlib.sha256(token.encode()).hexdigest()
    async with database.session(read_only=True) as session:
        row = (await session.execute(text(
            "SELECT u.id, u.name, u.email FROM api_keys k JOIN users u ON u.id = k.user_id "
            "WHERE k.token_hash = :digest"), {"digest": digest})).one()
    return {"user": {"id": row.id, "name": row.name, "email": row.email}}


async def _user_id(session: AsyncSession, authorization: str) -> str:
    digest = hashlib.sha256(authorization.split("=", 1)[1].encode()).hexdigest()
    return str((await session.execute(text(
        "SELECT u.id FROM api_keys k JOIN users u ON u.id = k.user_id "
        "WHERE k.token_hash = :digest"), {"digest": digest})).scalar_one())


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(tzinfo=None) if database.is_sqlite else now


# The service with its team and on-call users: what a create reads to assign the incident.
_SERVICE = text(
    "SELECT s.*, t.*, oc.*, u.* FROM services s LEFT JOIN teams t ON t.id = s.team_id "
    "LEFT JOIN service_on_call oc ON oc.service_id = s.id "
    "LEFT JOIN users u ON u.id = oc.user_id WHERE s.id = :service ORDER BY oc.position")
# The incident list's own statement (the page with its service, team, priority and
# assignees): the ceiling runs the very select Fireline runs, without Fireline around it.
_PAGE = listing.page_statement(frozenset(), restricted=False, keys=listing.sort_keys([]))


@app.post("/api/incidents", status_code=201)
async def create_incident(
    body: dict[str, Any] = Body(), authorization: str = Header()
) -> dict[str, object]:
    """What Fireline reads and writes for a REST create: the service, then the counter,
    incident, log entry and outbox rows."""
    fields = body["incident"]
    now = _now()
    incident_id, entry_id = "P" + secrets.token_hex(6).upper(), "P" + secrets.token_hex(6)
    agent = json.dumps({"type": "user_reference", "id": "x", "summary": "x"})
    async with database.transaction() as session:
        user_id = await _user_id(session, authorization)
        (await session.execute(_SERVICE, {"service": fields["service"]["id"]})).all()
        number = (await session.execute(text(
            "UPDATE incident_counters SET value = value + 1 WHERE name = 'incidents' "
            "RETURNING value"))).scalar_one()
        await session.execute(text(
            "INSERT INTO incidents (id, incident_number, title, status, urgency, incident_key, "
            "service_id, last_status_change_by, acknowledgements, alert_count, created_at, "
            "updated_at, last_status_change_at) VALUES (:id, :number, :title, 'triggered', "
            "'high', :key, :service, :agent, '[]', 0, :now, :now, :now)"), {
                "id": incident_id, "number": number, "title": fields["title"],
                "key": uuid.uuid4().hex, "service": fields["service"]["id"], "agent": agent,
                "now": now})
        await session.execute(text(
            "INSERT INTO log_entries (id, type, incident_id, service_id, agent, channel, "
            "summary, details, created_at) VALUES (:id, 'trigger_log_entry', :incident, "
            ":service, :agent, '{}', 'Triggered', '{}', :now)"), {
                "id": entry_id, "incident": incident_id, "service": fields["service"]["id"],
                "agent": agent, "now": now})
        await session.execute(text(
            "INSERT INTO outbox_events (kind, incident_id, payload, created_at) VALUES "
            "('incident.triggered', :incident, '{}', :now)"), {"incident": incident_id,
                                                                 "now": now})
    return {"incident": {"id": incident_id, "incident_number": number, "user": user_id}}


@app.get("/api/incidents")
async def list_incidents(authorization: str = Header()) -> Response:
    async with database.session(read_only=True) as session:
        await _user_id(session, authorization)
        connection = await session.connection()
        rows = (await connection.execute(_PAGE, {"page_limit": 26, "page_offset": 0})).all()
    # The rows as they come (timestamps as text), written by the standard library: the
    # cheapest answer; FastAPI's serializer takes several times longer over datetimes.
    body = {"incidents": [row._asdict() for row in rows[:25]], "more": len(rows) > 25}
    return Response(json.dumps(body, default=str), media_type="application/json")


@app.post("/v2/enqueue", status_code=202)
async def enqueue(body: dict[str, Any] = Body()) -> dict[str, object]:
    """Raw intake: find the integration, insert an alert row (on the service's first
    incident, which the benchmark creates); no validation, no dedup, no incident."""
    async with database.transaction() as session:
        row = (await session.execute(text(
            "SELECT i.id AS incident_id FROM service_integrations s JOIN incidents i "
            "ON i.service_id = s.service_id WHERE s.routing_key = :key LIMIT 1"),
            {"key": body["routing_key"]})).one()
        await session.execute(text(
            "INSERT INTO alerts (id, incident_id, dedup_key, summary, severity, body, "
            "created_at) VALUES (:id, :incident, :key, :summary, :severity, :body, :now)"), {
                "id": "P" + secrets.token_hex(6), "incident": row.incident_id,
                "key": body.get("dedup_key") or uuid.uuid4().hex,
                "summary": body["payload"]["summary"], "severity": body["payload"]["severity"],
                "body": json.dumps(body), "now": _now()})
    return {"status": "success", "message": "Event processed"}


__all__ = ["app", "os"]
