"""Bare FastAPI endpoints that do the same database work as Fireline's, without Fireline.

They are the ceilings the benchmarks compare against: same machine, same database file,
same driver, no middleware, no authorization layers, no PagerDuty shaping.
"""

from __future__ import annotations

import hashlib
import os

from fastapi import FastAPI, Header
from sqlalchemy import text

from fireline.core.db import Database
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
    async with database.session() as session:
        row = (await session.execute(text(
            "SELECT u.id, u.name, u.email FROM api_keys k JOIN users u ON u.id = k.user_id "
            "WHERE k.token_hash = :digest"), {"digest": digest})).one()
    return {"user": {"id": row.id, "name": row.name, "email": row.email}}


__all__ = ["app", "os"]
