"""How the connections package reaches tools: unsealed secrets, a guarded client bound to the
connection's destination, and a `ToolContext` for the integration.

Secrets are unsealed just in time and registered for redaction (SEC-5) before any use.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fireline.connections.models import Connection
from fireline.core.errors import InvalidInputError
from fireline.core.redaction import register_secret
from fireline.egress.addresses import IPNetwork
from fireline.egress.client import GuardedClient
from fireline.egress.policy import EgressPolicy
from fireline.egress.resolver import Resolver, resolve
from fireline.integrations.base import Destination, Integration, ToolContext
from fireline.settings import Settings
from fireline.vault.keyring import Keyring
from fireline.vault.sealing import Place, Vault

TABLE = "connections"
# Connections kept per destination by a shared client: the monitor's concurrency, so that a
# pass over many connections of one host reuses warm TLS connections instead of waiting.
SHARED_POOL_SIZE = 50
_POLICY_CACHE_SIZE = 4096


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
    shared_clients: dict[EgressPolicy, _SharedClient] = field(default_factory=dict)
    _policies: dict[tuple[Destination, tuple[IPNetwork, ...]], EgressPolicy] = field(
        default_factory=dict
    )

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
        # Policies are immutable and the settings fixed: one per destination is enough.
        key = (destination, allow_private)
        policy = self._policies.get(key)
        if policy is None:
            if len(self._policies) >= _POLICY_CACHE_SIZE:
                self._policies.clear()
            policy = EgressPolicy.for_settings(
                self.settings,
                allowed_hosts=destination.hosts,
                allowed_ports=destination.ports,
                allow_private=allow_private,
            )
            self._policies[key] = policy
        return policy

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
        """The context runs on the pooled client of its destination policy, shared by every
        check and step going there (kept-alive TLS connections), until `close_unused_clients`
        finds it idle or `aclose` closes them all."""
        entry = self._shared_client(self.policy(integration, config, allow_private))
        entry.users += 1
        try:
            yield self._context(
                entry.client, connection_id, config, secrets, external_id, idempotency_key
            )
        finally:
            entry.users -= 1

    def _context(
        self,
        http: GuardedClient,
        connection_id: str,
        config: Any,
        secrets: Any,
        external_id: str | None,
        idempotency_key: str | None,
    ) -> ToolContext:
        return ToolContext(
            connection_id=connection_id,
            config=config,
            secrets=secrets,
            http=http,
            idempotency_key=idempotency_key,
            external_id=external_id,
            endpoints=self.settings.provider_urls,
        )

    def _shared_client(self, policy: EgressPolicy) -> _SharedClient:
        entry = self.shared_clients.get(policy)
        if entry is None:
            # One pool per destination: its kept-alive TLS connections serve every check and
            # step going to that host.
            entry = _SharedClient(
                GuardedClient.for_settings(
                    self.settings, policy, resolver=self.resolver,
                    max_connections=SHARED_POOL_SIZE,
                )
            )
            self.shared_clients[policy] = entry
        entry.used = True
        return entry

    async def close_unused_clients(self) -> None:
        """Closes the shared clients that no one has used since the previous call and no one
        is using now: open connections stay bounded by the destinations checked lately,
        while a busy destination keeps its connections warm."""
        for policy, entry in list(self.shared_clients.items()):
            if entry.users == 0 and not entry.used:
                del self.shared_clients[policy]
                await entry.client.aclose()
            else:
                entry.used = False

    async def aclose(self) -> None:
        entries = list(self.shared_clients.values())
        self.shared_clients.clear()
        for entry in entries:
            await entry.client.aclose()


@dataclass
class _SharedClient:
    client: GuardedClient
    users: int = 0  # contexts using it now: never closed under them by close_unused_clients
    used: bool = True  # since the previous close_unused_clients
