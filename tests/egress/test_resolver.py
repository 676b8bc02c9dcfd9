from __future__ import annotations

import dataclasses
import socket
from ipaddress import ip_address, ip_network
from typing import Any

import anyio
import pytest

from fireline.core.errors import EgressDenied
from fireline.egress.client import GuardedClient
from fireline.egress.policy import EgressPolicy
from fireline.settings import Settings
from tests.egress.conftest import LOOPBACK, LocalServer, TlsSetup, fixed_resolver


def _policy(server: LocalServer, *hosts: str) -> EgressPolicy:
    return EgressPolicy(allowed_hosts=hosts, allowed_ports=(server.port,),
                        allow_private=LOOPBACK)


async def test_net3_dials_the_checked_address_but_verifies_the_host_name(
    https_server: LocalServer, tls: TlsSetup
) -> None:
    https_server.routes["/ping"] = lambda request: (200, [], b"pong")
    resolver = fixed_resolver({"api.test": ["127.0.0.1"]})
    async with GuardedClient(_policy(https_server, "api.test"), ca_bundle=tls.bundle,
                             resolver=resolver) as client:
        response = await client.request(
            "GET", f"https://api.test:{https_server.port}/ping", idempotent=True)
    assert response.text == "pong"
    assert https_server.requests[0].headers["host"] == f"api.test:{https_server.port}"


@pytest.mark.parametrize(
    "answers",
    [["10.0.0.7"], ["127.0.0.1", "10.0.0.7"], ["169.254.169.254"], ["::ffff:10.0.0.7"]],
)
async def test_net3_a_host_resolving_to_a_denied_address_is_refused_at_connect_time(
    https_server: LocalServer, tls: TlsSetup, answers: list[str]
) -> None:
    resolver = fixed_resolver({"api.test": answers})
    async with GuardedClient(_policy(https_server, "api.test"), ca_bundle=tls.bundle,
                             resolver=resolver) as client:
        with pytest.raises(EgressDenied, match="denied address"):
            await client.request(
                "GET", f"https://api.test:{https_server.port}/", idempotent=True)
    assert https_server.connections == 0


async def test_net3_metadata_address_is_denied_even_when_private_ranges_are_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The system resolver itself is replaced: the real `resolve` path is what is under test.
    async def rebinding_getaddrinfo(host: str, port: int, **_: Any) -> list[Any]:
        assert host == "metadata.test"
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "",
                 ("::ffff:169.254.169.254", port, 0, 0))]

    monkeypatch.setattr(anyio, "getaddrinfo", rebinding_getaddrinfo)
    everything = EgressPolicy(allowed_hosts=("metadata.test",), allowed_ports=(80,),
                              allow_http=True,
                              allow_private=(ip_network("0.0.0.0/0"), ip_network("::/0")))
    async with GuardedClient(everything) as client:
        with pytest.raises(EgressDenied, match="denied address"):
            await client.request("GET", "http://metadata.test/latest/meta-data/",
                                 idempotent=True)


async def test_net3_ip_literal_urls_are_checked_too(http_server: LocalServer) -> None:
    policy = EgressPolicy(allowed_hosts=("127.0.0.1",), allowed_ports=(http_server.port,),
                          allow_http=True)  # no private networks allowed
    async with GuardedClient(policy) as client:
        with pytest.raises(EgressDenied):
            await client.request("GET", f"http://127.0.0.1:{http_server.port}/",
                                 idempotent=True)
    assert http_server.connections == 0


async def test_net3_a_connect_to_route_is_checked_like_a_dns_answer(
    https_server: LocalServer, tls: TlsSetup
) -> None:
    https_server.routes["/ping"] = lambda request: (200, [], b"pong")
    url = f"https://api.test:{https_server.port}/ping"
    routed = {("api.test", https_server.port): (ip_address("127.0.0.1"), https_server.port)}
    settings = Settings.from_env({"FIRELINE_EGRESS_CA_BUNDLE": str(tls.bundle)})
    settings = dataclasses.replace(settings, egress_connect_to=routed)
    async with GuardedClient.for_settings(settings, _policy(https_server, "api.test")) as client:
        assert (await client.request("GET", url, idempotent=True)).text == "pong"
    strict = EgressPolicy(allowed_hosts=("api.test",), allowed_ports=(https_server.port,))
    async with GuardedClient.for_settings(settings, strict) as client:
        with pytest.raises(EgressDenied, match="denied address"):
            await client.request("GET", url, idempotent=True)
    assert len(https_server.requests) == 1
