from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from fireline.egress.addresses import address_allowed


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.1.1",
        "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254",
        "169.254.169.254",
        "::ffff:127.0.0.1",          # IPv4-mapped loopback
        "::ffff:169.254.169.254",    # IPv4-mapped metadata
        "64:ff9b::7f00:1",           # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",        # NAT64 of 169.254.169.254
        "64:ff9b:1::1",              # RFC 8215 local-use NAT64
        "2002:7f00:1::1",            # 6to4 of 127.0.0.1
        "::7f00:1",                  # IPv4-compatible 127.0.0.1
    ],
)
def test_net3_non_global_addresses_are_denied_by_default(address: str) -> None:
    assert not address_allowed(ip_address(address), ())


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"]
)
def test_net3_global_addresses_are_allowed(address: str) -> None:
    assert address_allowed(ip_address(address), ())


def test_net3_private_ranges_only_where_configured() -> None:
    loopback = (ip_network("127.0.0.0/8"),)
    assert address_allowed(ip_address("127.0.0.1"), loopback)
    assert address_allowed(ip_address("::ffff:127.0.0.1"), loopback)
    assert address_allowed(ip_address("64:ff9b::7f00:1"), loopback)
    assert not address_allowed(ip_address("10.0.0.1"), loopback)
    assert not address_allowed(ip_address("::1"), loopback)
    # An IPv4 address never "fits" an IPv6 network by its integer value.
    assert not address_allowed(ip_address("127.0.0.1"), (ip_network("::/96"),))


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254",
                "64:ff9b::a9fe:a9fe", "0.0.0.0", "::"],
)
def test_net3_metadata_and_unspecified_are_denied_even_when_configured(address: str) -> None:
    everything = (ip_network("0.0.0.0/0"), ip_network("::/0"))
    assert not address_allowed(ip_address(address), everything)
