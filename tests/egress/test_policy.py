from __future__ import annotations

from ipaddress import ip_network

import httpx
import pytest

from fireline.core.errors import EgressDenied, InvalidInputError
from fireline.egress.policy import EgressPolicy
from fireline.settings import Settings

POLICY = EgressPolicy(allowed_hosts=("api.x.com", "*.example.com"))


@pytest.mark.parametrize(
    "url",
    [
        "https://api.x.com@evil.com",
        "https://user:pass@api.x.com/",
        "https://evil.com#@api.x.com",
        "https://evil.com?@api.x.com",
        "https://api.x.com.evil.com",
        "https://api.x.com:8443/",
        "http://api.x.com/",
        "ftp://api.x.com/",
        "https://example.com/",
        "https://127.0.0.1/",
    ],
)
def test_net1_denied_urls(url: str) -> None:
    with pytest.raises(EgressDenied):
        POLICY.check_url(httpx.URL(url))


@pytest.mark.parametrize(
    "url",
    [
        "https://API.X.COM./",
        "https://api.x.com/v1?q=1",
        "https://api.x.com:443/",
        "https://a.b.example.com/path",
    ],
)
def test_net1_allowed_urls(url: str) -> None:
    POLICY.check_url(httpx.URL(url))


def test_net1_http_and_ports_only_when_allowed() -> None:
    policy = EgressPolicy(allowed_hosts=("api.x.com",), allowed_ports=(80, 8080),
                          allow_http=True)
    policy.check_url(httpx.URL("http://api.x.com/"))
    policy.check_url(httpx.URL("http://api.x.com:8080/"))
    with pytest.raises(EgressDenied):
        policy.check_url(httpx.URL("https://api.x.com/"))  # 443 is not in the list


def test_net1_invalid_patterns_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        EgressPolicy(allowed_hosts=("*.com",))


def test_net3_policy_adds_connection_networks_to_the_process_wide_ones() -> None:
    settings = Settings.from_env({"FIRELINE_EGRESS_ALLOW_PRIVATE": "127.0.0.0/8"})
    policy = EgressPolicy.for_settings(
        settings, allowed_hosts=["API.X.COM"], allow_private=[ip_network("10.0.0.0/8")]
    )
    assert policy.allowed_hosts == ("api.x.com",)
    assert policy.allow_private == (ip_network("127.0.0.0/8"), ip_network("10.0.0.0/8"))
