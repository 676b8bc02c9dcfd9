"""SEC-1, the canary: no stored secret appears in any response, header, page, log record,
error, audit entry, health history, the OpenAPI document, or any database column other than
its sealed blob — in plain form or the encodings a tool might echo."""

from __future__ import annotations

import base64
import logging
import secrets
from urllib.parse import quote, quote_plus

import httpx
import pytest
from sqlalchemy import select

from fireline.core.db import Base, Database
from tests.conftest import Actor
from tests.connections.conftest import ES_HOST, ES_KEY
from tests.connections.test_views import ES, es_body


def _forms(secret: str) -> set[str]:
    raw = secret.encode()
    return {secret, base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("="), quote(secret, safe=""),
            quote_plus(secret), raw.hex()}


async def _dump(db: Database) -> str:
    lines = []
    async with db.session() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                for column, value in row.items():
                    if table.name == "connections" and column in {"secrets_blob", "data_key"}:
                        continue  # the sealed blob and wrapped key: ciphertext by design
                    lines.append(f"{table.name}.{column}={value!r}")
    return "\n".join(lines)


async def test_sec1_canary_never_leaks(
    client: httpx.AsyncClient, make_actor, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin: Actor = await make_actor("admin")
    wrong_canary = "canary-" + secrets.token_hex(12)
    responses: list[httpx.Response] = []

    async def call(method: str, url: str, **kwargs: object) -> httpx.Response:
        response = await client.request(method, url, headers=admin.headers, **kwargs)  # type: ignore[arg-type]
        responses.append(response)
        return response

    created = await call("POST", ES, json=es_body())
    assert created.status_code == 201
    url = f"{ES}/{created.json()['connection']['id']}"
    # An upstream that echoes the credential in its error body (the fake does).
    refused = await call("POST", ES, json=es_body("Echo", key=wrong_canary))
    assert refused.status_code == 400
    await call("PATCH", url, json={"connection": {"secrets": {"api_key": wrong_canary}}})
    await call("PATCH", url, json={"connection": {"name": "Renamed"}})
    await call("POST", f"{url}/verify")
    await call("GET", url)
    await call("GET", ES)
    await call("GET", "/api/workflows/integrations/connections")
    await call("GET", f"{url}/health_checks")
    await call("GET", "/api/workflows/integrations")
    await call("GET", "/api/openapi.json")
    await call("PATCH", url, json={"connection": {"configuration": {
        "url": f"https://{ES_HOST}:9200"}, "secrets": {"api_key": ES_KEY}}})

    haystack = "\n".join(
        [r.text for r in responses]
        + [f"{k}: {v}" for r in responses for k, v in r.headers.items()]
        + [caplog.text, *(record.getMessage() for record in caplog.records)]
        + [await _dump(db)]
    )
    for canary in (ES_KEY, wrong_canary):
        for form in _forms(canary):
            assert form not in haystack, f"secret leaked in form {form!r}"
    assert "[REDACTED]" in await _dump(db)  # the echoed key was scrubbed, not just absent
