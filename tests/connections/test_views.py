from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from fireline.accounts import service as accounts
from fireline.connections.models import Connection, HealthCheck
from fireline.core.audit import AuditEvent
from fireline.core.db import Database
from fireline.integrations.base import SECRET_PLACEHOLDER
from tests.conftest import Actor
from tests.connections.conftest import ES_HOST, ES_KEY

ES = "/api/workflows/integrations/elasticsearch/connections"


def es_body(name: str = "Prod logs", key: str = ES_KEY, **extra: object) -> dict[str, object]:
    return {
        "connection": {
            "name": name,
            "configuration": {"url": f"https://{ES_HOST}:9200"},
            "secrets": {"api_key": key},
            **extra,
        }
    }


async def test_catalog_lists_elasticsearch_with_field_schemas(
    client: httpx.AsyncClient, make_actor
) -> None:
    actor: Actor = await make_actor("responder")
    catalog = (await client.get("/api/workflows/integrations", headers=actor.headers)).json()
    entry = next(i for i in catalog["workflow_integrations"] if i["id"] == "elasticsearch")
    assert entry["fields"]["configuration"]["properties"]["url"]["title"] == "Elasticsearch URL"
    assert entry["fields"]["secrets"]["properties"]["api_key"]["writeOnly"] is True
    assert entry["actions"][0]["id"] == "elasticsearch.search_logs"


async def test_create_verifies_and_never_returns_the_secret(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    response = await client.post(ES, json=es_body(is_default=True), headers=admin.headers)
    assert response.status_code == 201, response.text
    body = response.json()["connection"]
    assert body["secrets"] == {"api_key": SECRET_PLACEHOLDER}
    assert body["health"]["is_healthy"] is True
    assert body["health"]["status"] == "Healthy"
    assert "fake-cluster" in body["health"]["health_message"]
    assert body["is_default"] is True and body["teams"] == []
    assert body["created_by"]["id"] == admin.user.id
    assert ES_KEY not in response.text
    async with db.session() as session:
        stored = await session.get(Connection, body["id"])
        assert (
            stored is not None
            and stored.secrets_blob
            and ES_KEY.encode() not in stored.secrets_blob
        )
        events = list(await session.scalars(select(AuditEvent)))
        assert [e.action for e in events] == ["connection.create"]
        assert len(list(await session.scalars(select(HealthCheck)))) == 1


async def test_wrong_key_is_not_created(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    response = await client.post(ES, json=es_body(key="wrong-key-value"), headers=admin.headers)
    assert response.status_code == 400
    assert "could not be verified" in response.json()["error"]["message"]
    async with db.session() as session:
        assert list(await session.scalars(select(Connection))) == []
        failure = await session.scalar(select(AuditEvent))
        assert failure is not None and failure.outcome == "failure"


async def test_bad_configuration_is_a_clear_400(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    body = es_body()
    body["connection"]["configuration"] = {"url": "http://es.example.com"}  # type: ignore[index]
    response = await client.post(ES, json=body, headers=admin.headers)
    assert response.status_code == 400
    assert any("configuration.url" in e for e in response.json()["error"]["errors"])
    unknown = await client.post(
        "/api/workflows/integrations/nope/connections", json=es_body(), headers=admin.headers
    )
    assert unknown.status_code == 404


@pytest.mark.parametrize("role", ["responder", "observer", "restricted"])
async def test_only_managers_admins_and_owner_add(
    client: httpx.AsyncClient, make_actor, role: str
) -> None:
    actor: Actor = await make_actor(role)
    assert (await client.post(ES, json=es_body(), headers=actor.headers)).status_code == 403


async def test_sec2_placeholder_keeps_and_new_value_replaces(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    created = (await client.post(ES, json=es_body(), headers=admin.headers)).json()["connection"]
    url = f"{ES}/{created['id']}"
    kept = await client.patch(
        url,
        headers=admin.headers,
        json={"connection": {"name": "Renamed", "secrets": {"api_key": SECRET_PLACEHOLDER}}},
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["connection"]["health"]["is_healthy"] is True  # the stored key still works
    replaced = await client.patch(
        url,
        headers=admin.headers,
        json={"connection": {"secrets": {"api_key": "a-different-wrong-key"}}},
    )
    assert replaced.status_code == 400  # verification blocks the save: nothing changed
    again = await client.post(f"{url}/verify", headers=admin.headers)
    assert again.json()["connection"]["health"]["is_healthy"] is True


async def test_sec3_changing_the_url_requires_the_secret_again(
    client: httpx.AsyncClient, make_actor
) -> None:
    admin: Actor = await make_actor("admin")
    created = (await client.post(ES, json=es_body(), headers=admin.headers)).json()["connection"]
    response = await client.patch(
        f"{ES}/{created['id']}",
        headers=admin.headers,
        json={
            "connection": {
                "configuration": {"url": "https://other.example.com"},
                "secrets": {"api_key": SECRET_PLACEHOLDER},
            }
        },
    )
    assert response.status_code == 422
    assert "url" in response.json()["error"]["message"]


async def test_one_default_per_tool(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    first = (
        await client.post(ES, json=es_body("A", is_default=True), headers=admin.headers)
    ).json()["connection"]
    await client.post(ES, json=es_body("B", is_default=True), headers=admin.headers)
    listed = (await client.get(ES, headers=admin.headers)).json()["connections"]
    assert {c["name"]: c["is_default"] for c in listed} == {"A": False, "B": True}
    assert first["id"] in {c["id"] for c in listed}


async def test_acl2_team_scope_decides_visibility_and_edit(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    team_manager: Actor = await make_actor("responder")
    other_manager: Actor = await make_actor("responder")
    async with db.transaction() as session:
        team = await accounts.create_team(session=session, name="Payments")
        await accounts.create_team(session=session, name="Search")
        await accounts.add_team_member(
            session=session, team_name="Payments", email=team_manager.user.email, role="manager"
        )
        await accounts.add_team_member(
            session=session, team_name="Search", email=other_manager.user.email, role="manager"
        )
    scoped = (
        await client.post(
            ES,
            headers=admin.headers,
            json=es_body("Payments logs", teams=[{"team_id": team.id, "type": "team_reference"}]),
        )
    ).json()
    default = (await client.post(ES, headers=admin.headers, json=es_body("Global"))).json()
    scoped_url = f"{ES}/{scoped['connection']['id']}"
    default_url = f"{ES}/{default['connection']['id']}"

    seen = (
        await client.get("/api/workflows/integrations/connections", headers=team_manager.headers)
    ).json()["connections"]
    assert [c["name"] for c in seen] == ["Payments logs"]
    assert (await client.get(scoped_url, headers=team_manager.headers)).status_code == 200
    renamed = await client.patch(
        scoped_url, headers=team_manager.headers, json={"connection": {"name": "Payments ES"}}
    )
    assert renamed.status_code == 200
    widen = await client.patch(
        scoped_url, headers=team_manager.headers, json={"connection": {"teams": []}}
    )
    assert widen.status_code == 403

    for url in (scoped_url, default_url):
        for method in ("GET", "DELETE"):
            response = await client.request(method, url, headers=other_manager.headers)
            assert response.status_code == 404, (method, url)
        verify = await client.post(f"{url}/verify", headers=other_manager.headers)
        assert verify.status_code == 404  # SEC-4
    assert (await client.get(default_url, headers=team_manager.headers)).status_code == 404
    assert (await client.delete(scoped_url, headers=team_manager.headers)).status_code == 204


async def test_health_history_and_delete(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    created = (await client.post(ES, json=es_body(), headers=admin.headers)).json()["connection"]
    url = f"{ES}/{created['id']}"
    await client.post(f"{url}/verify", headers=admin.headers)
    history = (await client.get(f"{url}/health_checks", headers=admin.headers)).json()
    assert [c["trigger"] for c in history["health_checks"]] == ["on_demand", "create"]
    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    assert (await client.get(url, headers=admin.headers)).status_code == 404


async def test_cursor_pagination(client: httpx.AsyncClient, make_actor) -> None:
    admin: Actor = await make_actor("admin")
    for index in range(3):
        await client.post(ES, json=es_body(f"C{index}"), headers=admin.headers)
    page = (await client.get(ES, params={"limit": 2}, headers=admin.headers)).json()
    assert len(page["connections"]) == 2 and page["next_cursor"]
    rest = (
        await client.get(
            ES, params={"limit": 2, "cursor": page["next_cursor"]}, headers=admin.headers
        )
    ).json()
    assert [c["name"] for c in rest["connections"]] == ["C2"] and rest["next_cursor"] is None
    bad = await client.get(ES, params={"cursor": "garbage"}, headers=admin.headers)
    assert bad.status_code == 400
