from __future__ import annotations

import pytest

from fireline.core.errors import InvalidInputError
from fireline.egress.hosts import host_allowed, normalize_host, validate_pattern


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("API.X.COM.", "api.x.com"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("[::1]", "::1"),
        ("0:0::1", "::1"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_net1_hosts_are_normalized(raw: str, canonical: str) -> None:
    assert normalize_host(raw) == canonical


@pytest.mark.parametrize("raw", ["", ".", "a..b", ".a.b", "bad_label!.com"])
def test_net1_malformed_hosts_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidInputError):
        normalize_host(raw)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("api.x.com", True),
        ("API.X.COM.", True),
        ("a.example.com", True),
        ("a.b.example.com", True),
        ("example.com", False),
        ("badexample.com", False),
        ("api.x.com.evil.com", False),
        ("x.com", False),
        ("evil.com", False),
    ],
)
def test_net1_host_allowed_exact_or_below_a_wildcard(host: str, allowed: bool) -> None:
    assert host_allowed(host, ["api.x.com", "*.example.com"]) is allowed


@pytest.mark.parametrize("pattern", ["*", "*.com", "*.10.0.0.1", "a.*.com", "", "*."])
def test_net1_unsafe_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(InvalidInputError):
        validate_pattern(pattern)


def test_net1_patterns_are_normalized() -> None:
    assert validate_pattern("*.Example.COM.") == "*.example.com"
    assert validate_pattern("API.X.COM") == "api.x.com"
