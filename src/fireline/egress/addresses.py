"""Which resolved addresses an outbound connection may dial (NET-3).

Public (global) addresses are allowed. Loopback, private, link-local and other non-global
ranges are allowed only inside the configured `allow_private` networks. IPv4-mapped
(::ffff:a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are judged by the IPv4
address they carry. Cloud metadata endpoints, the unspecified address and multicast are
always denied, whatever the configuration says.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# NET-3: cloud metadata (AWS, GCP, Azure, ... on 169.254.169.254; AWS Nitro over IPv6).
METADATA_ADDRESSES = frozenset({IPv4Address("169.254.169.254"), IPv6Address("fd00:ec2::254")})
_NAT64 = IPv6Network("64:ff9b::/96")
# Ranges Python 3.11's `is_global` wrongly calls global: RFC 8215 local-use NAT64, the
# deprecated IPv4-compatible ::/96 (it holds ::1 and ::), shared address space (RFC 6598).
_NOT_GLOBAL = (ip_network("64:ff9b:1::/48"), ip_network("::/96"), ip_network("100.64.0.0/10"))


def unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries, if it is a translation form."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return IPv4Address(int(address) & 0xFFFF_FFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def address_allowed(address: IPAddress, allow_private: Iterable[IPNetwork]) -> bool:
    target = unwrap(address)
    if address in METADATA_ADDRESSES or target in METADATA_ADDRESSES:
        return False
    if target.is_unspecified or target.is_multicast:
        return False
    if any(_within(target, network) for network in allow_private):
        return True
    return target.is_global and not any(_within(target, network) for network in _NOT_GLOBAL)


def _within(address: IPAddress, network: IPNetwork) -> bool:
    # ipaddress compares integers: an IPv4 address "fits" an IPv6 network unless versions match.
    return address.version == network.version and address in network
