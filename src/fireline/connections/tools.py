"""How the connections package reaches tools: unsealed secrets, a guarded client bound to the
connection's destination, and a `ToolContext` for the integration.

Secrets are unsealed just in time and registered for redaction (SEC-5) before any use.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fireline.connections.models import Connection
from fireline.core.errors import InvalidInputError
from fireline.core.redaction import register_secret
from fireline.egress.addresses import IPNetwork
from fireline.egress.client import GuardedClient
from fireline.egress.policy import EgressPolicy
from fireline.egress.transport import Resolver, resolve
from fireline.integrations.base import Integration, ToolContext
from fireline.settings import Settings
from fireline.vault.keyring import Keyring
from fireline.vault.sealing import Place, Vault

TABLE = "connections"


def secrets_place(connection_id: str) -> Place:
    return Place(table=TABLE, row_id=connection_id, field="secrets")


def parse_networks(values: list[str]) -> tuple[IPNetwork, ...]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise InvalidInputError(
                errors=[f"allow_private_networks: {value!r} is not a CIDR network"]
            ) from None
    return tuple(networks)


@dataclass(frozen=True)
class Tools:
    settings: Settings
    keyring: Keyring
    vault: Vault
    resolver: Resolver = resolve

    def seal_secrets(self, connection: Connection, values: Mapping[str, str]) -> None:
        blob = json.dumps(dict(values), sort_keys=True).encode()
        connection.secrets_blob = self.vault.seal(
            blob, wrapped_key=connection.data_key, place=secrets_place(connection.id)
        )
        connection.secret_fields = sorted(values)

    def unseal_secrets(self, connection: Connection) -> dict[str, str]:
        if connection.secrets_blob is None:
            return {}
        plain = self.vault.unseal(
            connection.secrets_blob,
            wrapped_key=connection.data_key,
            place=secrets_place(connection.id),
        )
        values: dict[str, str] = json.loads(plain)
        for value in values.values():
            register_secret(value)
        return values

    def policy(
        self, integration: Integration, config: Any, allow_private: tuple[IPNetwork, ...]
    ) -> EgressPolicy:
        destination = integration.destination(config)
        return EgressPolicy.for_settings(
            self.settings,
            allowed_hosts=destination.hosts,
            allowed_ports=destination.ports,
            allow_private=allow_private,
        )

    @asynccontextmanager
    async def context(
        self,
        integration: Integration,
        *,
        connection_id: str,
        config: Any,
        secrets: Any,
        external_id: str | None,
        allow_private: tuple[IPNetwork, ...],
        idempotency_key: str | None = None,
    ) -> AsyncIterator[ToolContext]:
        policy = self.policy(integration, config, allow_private)
        async with GuardedClient.for_settings(
            self.settings, policy, resolver=self.resolver
        ) as http:
            yield ToolContext(
                connection_id=connection_id,
                config=config,
                secrets=secrets,
                http=http,
                idempotency_key=idempotency_key,
                external_id=external_id,
                endpoints=self.settings.provider_urls,
            )
