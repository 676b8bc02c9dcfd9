"""Host names and allow-list patterns (NET-1).

A host is compared in one canonical form: lowercased, one trailing dot removed, IDNA-encoded
(UTS #46); IP literals in their compressed form. A pattern is an exact host or `*.suffix`,
which matches any host *below* the suffix (`*.example.com` matches `a.example.com` and
`a.b.example.com`, never `example.com` itself).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

import idna

from fireline.core.errors import InvalidInputError


# A pure function of its argument, on every request's path (twice: NET-2): worth remembering.
# Inputs that raise are not cached; that is fine, they are refused anyway.
@functools.lru_cache(maxsize=4096)
def normalize_host(host: str) -> str:
    """The canonical form of a host name or IP literal; `InvalidInputError` if malformed."""
    # NET-1: lowercase, strip the trailing dot, IDNA-encode.
    candidate = host.strip("[]") if host.startswith("[") else host
    if candidate.endswith("."):
        candidate = candidate[:-1]
    try:
        return ipaddress.ip_address(candidate).compressed
    except ValueError:
        pass
    if not candidate or candidate.startswith(".") or ".." in candidate:
        raise InvalidInputError(f"not a valid host name: {host!r}")
    try:
        return idna.encode(candidate, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise InvalidInputError(f"not a valid host name: {host!r}") from exc


def validate_pattern(pattern: str) -> str:
    """The canonical form of an allow-list pattern; `InvalidInputError` if it is not one."""
    wildcard = pattern.startswith("*.")
    host = normalize_host(pattern[2:] if wildcard else pattern)
    if wildcard:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            raise InvalidInputError(f"a wildcard cannot cover an IP address: {pattern!r}")
        # A wildcard over a bare top-level domain would send the credential anywhere.
        if "." not in host:
            raise InvalidInputError(f"a wildcard needs at least two labels: {pattern!r}")
        return "*." + host
    return host


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    try:
        canonical = normalize_host(host)
    except InvalidInputError:
        return False
    for pattern in patterns:
        if pattern.startswith("*."):
            suffix = "." + normalize_host(pattern[2:])
            if canonical.endswith(suffix) and len(canonical) > len(suffix):
                return True
        elif canonical == normalize_host(pattern):
            return True
    return False
