"""CRY-7 on real connections: seal under k1 → rotate to k2 → k1 removed → every connection
still opens and verifies; a second rotation re-wraps nothing."""

from __future__ import annotations

import base64
import secrets

import httpx
from sqlalchemy import select

from fireline.connections.models import Connection
from fireline.connections.tools import secrets_place
from fireline.core.db import Database
from fireline.settings import Settings
from fireline.vault.keyring import load_keyring
from fireline.vault.rotation import SEALED_TABLES, rewrap_all
from fireline.vault.sealing import Vault
from tests.conftest import Actor
from tests.connections.conftest import ES_KEY
from tests.connections.test_views import ES, es_body


async def test_cry7_rotation_keeps_every_connection_readable(
    client: httpx.AsyncClient, make_actor, db: Database, settings: Settings, master_key: str
) -> None:
    admin: Actor = await make_actor("admin")
    for index in range(3):
        assert (await client.post(ES, json=es_body(f"C{index}"),
                                  headers=admin.headers)).status_code == 201
    new_key = base64.b64encode(secrets.token_bytes(32)).decode()
    both = load_keyring(Settings.from_env({"FIRELINE_MASTER_KEY": f"{new_key},{master_key}"}))
    assert await rewrap_all(database=db, vault=Vault(both), tables=SEALED_TABLES) == 3
    assert await rewrap_all(database=db, vault=Vault(both), tables=SEALED_TABLES) == 0

    only_new = Vault(load_keyring(Settings.from_env({"FIRELINE_MASTER_KEY": new_key})))
    async with db.session() as session:
        for connection in await session.scalars(select(Connection)):
            assert connection.secrets_blob is not None
            plain = only_new.unseal(connection.secrets_blob, wrapped_key=connection.data_key,
                                    place=secrets_place(connection.id))
            assert ES_KEY in plain.decode()
