"""Allowed hostnames for Web API credentials (NET-1).

An entry is an exact hostname (`api.example.com`) or a wildcard for subdomains
(`*.example.com`, which matches `a.example.com` and `a.b.example.com` but not `example.com`).
Entries and request hosts are compared in one normal form: lowercase, trailing dot
stripped, IDNA (A-label) encoded. Entries with a scheme, path, port, user name or a bare `*`
are refused rather than guessed at.
"""

from __future__ import annotations

import re

import httpx
import idna

# RFC 1123 §2.1 label: letters, digits and hyphens, not starting or ending with a hyphen.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_hostname(value: str) -> str:
    """The comparable form of a hostname; raises ValueError when it is not one."""
    host = value.strip().rstrip(".").lower()
    if not host:
        raise ValueError("hostname is empty")
    if any(ch in host for ch in ":/@?#[] \t\\"):
        raise ValueError(
            f"{value.strip()!r} is not a bare hostname (no scheme, path, port or user name)"
        )
    try:
        encoded = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"{value.strip()!r} is not a valid hostname: {exc}") from exc
    if len(encoded) > 253 or not all(_LABEL.match(label) for label in encoded.split(".")):
        raise ValueError(f"{value.strip()!r} is not a valid hostname")
    return encoded


def normalize_pattern(value: str) -> str:
    """An allow-list entry in normal form: `host` or `*.suffix`."""
    entry = value.strip()
    if entry.startswith("*."):
        suffix = normalize_hostname(entry[2:])
        # A wildcard over a single label (`*.com`) would send the secret to a whole TLD.
        if "." not in suffix:
            raise ValueError(f"{entry!r}: a wildcard needs a domain with at least two labels")
        return f"*.{suffix}"
    if "*" in entry:
        raise ValueError(
            f"{entry!r}: an asterisk is only allowed as the first label, e.g. *.example.com"
        )
    return normalize_hostname(entry)


def parse_patterns(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    lines = value.splitlines() if isinstance(value, str) else list(value)
    patterns: list[str] = []
    for line in lines:
        if line.strip() and (pattern := normalize_pattern(line)) not in patterns:
            patterns.append(pattern)
    if not patterns:
        raise ValueError("enter at least one hostname")
    return tuple(patterns)


def host_matches(host: str, patterns: tuple[str, ...]) -> bool:
    try:
        candidate = normalize_hostname(host)
    except ValueError:
        return False
    for pattern in patterns:
        if pattern.startswith("*."):
            if candidate.endswith(pattern[1:]):
                return True
        elif candidate == pattern:
            return True
    return False


def url_host(url: httpx.URL) -> str:
    # raw_host is already IDNA-encoded by httpx.
    return url.raw_host.decode("ascii")


def check_url(raw: str | httpx.URL, patterns: tuple[str, ...], ports: tuple[int, ...]) -> httpx.URL:
    """Parses `raw` once (NET-2) and refuses it unless it is https, carries no user name and
    goes to an allowed host and port. The returned object is the one to send."""
    try:
        url = raw if isinstance(raw, httpx.URL) else httpx.URL(raw)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {exc}") from exc
    if url.scheme != "https":
        raise ValueError("the URL must use https://")
    if url.userinfo:
        raise ValueError("the URL must not contain a user name or password")
    if not url.host or not host_matches(url_host(url), patterns):
        raise ValueError(f"host {url.host!r} is not in this connection's allowed hostnames")
    if (url.port or 443) not in ports:
        raise ValueError(f"port {url.port} is not allowed for this connection")
    return url
