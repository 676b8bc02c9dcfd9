"""The connect-time guard (NET-3): resolve, check every address, dial only checked ones.

`GuardedResolver` is the aiohttp resolver (`aiohttp.abc.AbstractResolver`, the documented hook
between a URL's host and the addresses a `TCPConnector` dials) of every egress connection. It
resolves the host itself, refuses with `EgressDenied` if *any* answer is not allowed, and
hands the connector only that checked list — so no second DNS answer can slip in between the
check and the connect (DNS rebinding). TLS still verifies the certificate against, and sends
SNI for, the URL's host name. The connector caches these checked answers for a few seconds;
every cached address was checked.

aiohttp does not ask a resolver about IP literals (`https://10.0.0.7/`): `check_literal` is
their guard, called by the client before a request is handed to aiohttp.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping

import anyio
from aiohttp.abc import AbstractResolver, ResolveResult

from fireline.core.errors import EgressDenied
from fireline.egress.addresses import IPAddress, IPNetwork, address_allowed

# A resolver answers with socket addresses (address, port), as getaddrinfo does. The port is
# normally the one asked for; a test resolver, or `FIRELINE_EGRESS_CONNECT_TO`, may send a
# real host and port to another address and port.
SocketAddress = tuple[IPAddress, int]
Resolver = Callable[[str, int], Awaitable[list[SocketAddress]]]


async def resolve(host: str, port: int) -> list[SocketAddress]:
    """Every address the system resolver gives for `host`, in its preferred order."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[SocketAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if (address, port) not in addresses:
            addresses.append((address, port))
    return addresses


def connecting_to(
    routes: Mapping[tuple[str, int], SocketAddress], fallback: Resolver = resolve
) -> Resolver:
    """A resolver that answers `routes` (host, port) → (address, port) itself, as curl's
    `--connect-to` does, and asks `fallback` for every other host. Its answers pass the same
    check as DNS answers: a route to a private address needs that network allowed."""
    if not routes:
        return fallback

    async def resolve_routed(host: str, port: int) -> list[SocketAddress]:
        target = routes.get((host, port))
        return [target] if target is not None else await fallback(host, port)

    return resolve_routed


def check_literal(host: str, allow_private: Iterable[IPNetwork]) -> None:
    """NET-3 for a URL whose host is an IP address; nothing for a host name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not address_allowed(address, allow_private):
        raise EgressDenied(f"{host} is a denied address")


class GuardedResolver(AbstractResolver):
    def __init__(self, *, allow_private: Iterable[IPNetwork], resolver: Resolver = resolve) -> None:
        self._allow_private = tuple(allow_private)
        self._resolver = resolver

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        # OSError is what aiohttp reports as a DNS failure (ClientConnectorDNSError).
        addresses = await self._resolver(host, port)
        if not addresses:
            raise OSError(f"cannot resolve {host}")
        # NET-3: every answer must pass, or an attacker's DNS could mix in a private address.
        denied = [str(a) for a, _ in addresses if not address_allowed(a, self._allow_private)]
        if denied:
            raise EgressDenied(f"{host} resolves to a denied address ({', '.join(denied)})")
        return [
            {
                "hostname": host,
                "host": str(address),  # NET-3: the connector dials this checked address
                "port": address_port,
                "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address, address_port in addresses
        ]

    async def close(self) -> None:
        pass
