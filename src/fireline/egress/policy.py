"""Where a credential may be sent (NET-1): the allow-list a request's URL must pass.

`check_url` takes the one parsed `httpx.URL` that will be sent (NET-2) and refuses, with
`EgressDenied`: any scheme but https (http only when an admin allowed it), userinfo in the
URL, a host outside the allow-list, a port outside the allowed ports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from fireline.core.errors import EgressDenied
from fireline.egress.addresses import IPNetwork
from fireline.egress.hosts import host_allowed, validate_pattern
from fireline.settings import Settings

_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class EgressPolicy:
    """Hosts are exact names or `*.suffix` patterns, validated and normalized on creation.
    `allowed_ports` applies to the effective port (443 for https, 80 for http)."""

    allowed_hosts: tuple[str, ...]
    allowed_ports: tuple[int, ...] = (443,)
    allow_http: bool = False
    allow_private: tuple[IPNetwork, ...] = ()

    def __post_init__(self) -> None:
        canonical = tuple(validate_pattern(pattern) for pattern in self.allowed_hosts)
        object.__setattr__(self, "allowed_hosts", canonical)

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        *,
        allowed_hosts: Iterable[str],
        allowed_ports: Iterable[int] = (443,),
        allow_http: bool = False,
        allow_private: Iterable[IPNetwork] = (),
    ) -> EgressPolicy:
        """A policy whose private networks are the process-wide ones plus a connection's own
        (NET-3: set per connection by admins only — the connections package enforces that)."""
        return cls(
            allowed_hosts=tuple(allowed_hosts),
            allowed_ports=tuple(allowed_ports),
            allow_http=allow_http,
            allow_private=(*settings.egress_allow_private, *allow_private),
        )

    def check_url(self, url: httpx.URL) -> None:
        # NET-1: https only unless an admin allows http.
        allowed_schemes = ("https", "http") if self.allow_http else ("https",)
        if url.scheme not in allowed_schemes:
            raise EgressDenied(f"scheme {url.scheme!r} is not allowed")
        # NET-1: userinfo is how `https://api.x.com@evil.com` smuggles another host.
        if url.userinfo:
            raise EgressDenied("URLs with user information are not allowed")
        host = url.raw_host.decode("ascii")
        if not host or not host_allowed(host, self.allowed_hosts):
            raise EgressDenied(f"host {host!r} is not in the allowed hosts")
        port = url.port if url.port is not None else _DEFAULT_PORTS[url.scheme]
        if port not in self.allowed_ports:
            raise EgressDenied(f"port {port} is not allowed")
