"""ACL-1 through the API: for every base role and team role, each route answers exactly as
`access.allowed` decides (ACL-2: what one may not view is a 404), on both databases."""

from __future__ import annotations

import itertools

import httpx

from fireline.accounts import service as accounts
from fireline.accounts.roles import BaseRole, TeamRole
from fireline.connections.access import Verb, allowed
from fireline.core.db import Database
from tests.conftest import Actor
from tests.connections.test_views import ES, es_body


async def test_acl1_matrix_over_the_api(
    client: httpx.AsyncClient, make_actor, db: Database
) -> None:
    admin: Actor = await make_actor("admin")
    async with db.transaction() as session:
        team = await accounts.create_team(session=session, name="Payments")
    scoped = (
        await client.post(
            ES, headers=admin.headers, json=es_body("Scoped", teams=[{"team_id": team.id}])
        )
    ).json()["connection"]
    default = (await client.post(ES, headers=admin.headers, json=es_body("Default"))).json()[
        "connection"
    ]

    for role, team_role in itertools.product(BaseRole, [None, *TeamRole]):
        actor: Actor = await make_actor(role.value)
        if team_role is not None:
            async with db.transaction() as session:
                await accounts.add_team_member(
                    session=session,
                    team_name="Payments",
                    email=actor.user.email,
                    role=team_role.value,
                )
        team_roles = {team.id: team_role} if team_role else {}
        seen = (
            await client.get("/api/workflows/integrations/connections", headers=actor.headers)
        ).json()["connections"]
        for connection, scope in ((scoped, (team.id,)), (default, ())):
            case = (role, team_role, connection["name"])

            def may(verb: Verb, scope: tuple[str, ...] = scope) -> bool:
                return allowed(verb, role=role, team_roles=team_roles, scope_team_ids=scope)

            url = f"{ES}/{connection['id']}"
            listed = connection["id"] in {c["id"] for c in seen}
            assert listed is may(Verb.VIEW), case
            got = await client.get(url, headers=actor.headers)
            assert got.status_code == (200 if may(Verb.VIEW) else 404), case
            edit = await client.patch(
                url, headers=actor.headers, json={"connection": {"allow_sre_agent": True}}
            )
            assert edit.status_code == (
                200 if may(Verb.EDIT) else 403 if may(Verb.VIEW) else 404
            ), case
            widen = await client.patch(
                url, headers=actor.headers, json={"connection": {"teams": []}}
            )
            changes_scope = bool(scope)
            expected = (
                404
                if not may(Verb.VIEW)
                else 403
                if not may(Verb.EDIT)
                else 200
                if not changes_scope or may(Verb.CHANGE_ACCESS)
                else 403
            )
            assert widen.status_code == expected, case
            if widen.status_code == 200 and changes_scope:  # put the scope back
                await client.patch(
                    url,
                    headers=admin.headers,
                    json={"connection": {"teams": [{"team_id": team.id}]}},
                )
            private = await client.patch(
                url,
                headers=actor.headers,
                json={"connection": {"allow_private_networks": ["10.0.0.0/8"]}},
            )
            assert private.status_code in (
                (200, 400, 422) if may(Verb.ALLOW_PRIVATE) else (403, 404)
            ), case
            if may(Verb.ALLOW_PRIVATE):  # SEC-3: a new destination needs the secret again
                assert private.status_code == 422, case
        created = await client.post(ES, headers=actor.headers, json=es_body(f"by {role}"))
        assert created.status_code == (201 if may(Verb.CREATE, ()) else 403), role
