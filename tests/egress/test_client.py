from __future__ import annotations

import asyncio
import email.utils
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx
import pytest

from fireline.core.errors import (
    CredentialError,
    EgressDenied,
    PermanentError,
    TransientError,
)
from fireline.core.redaction import register_secret
from fireline.egress.client import GuardedClient
from fireline.egress.policy import EgressPolicy
from fireline.settings import Settings
from tests.egress.conftest import (
    LOOPBACK,
    FakeSleep,
    LocalServer,
    Recorded,
    TlsSetup,
    fixed_resolver,
)

RESOLVER = fixed_resolver({"api.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})


def _http_client(server: LocalServer, **options: object) -> GuardedClient:
    policy = EgressPolicy(allowed_hosts=("127.0.0.1",), allowed_ports=(server.port,),
                          allow_http=True, allow_private=LOOPBACK)
    return GuardedClient(policy, **options)  # type: ignore[arg-type]


def _tls_client(server: LocalServer, tls: TlsSetup, *hosts: str,
                **options: object) -> GuardedClient:
    policy = EgressPolicy(allowed_hosts=hosts or ("api.test",), allowed_ports=(server.port,),
                          allow_private=LOOPBACK)
    return GuardedClient(policy, ca_bundle=tls.bundle, resolver=RESOLVER,
                         **options)  # type: ignore[arg-type]


async def test_net2_the_checked_url_object_is_the_one_sent(http_server: LocalServer) -> None:
    http_server.routes["/items"] = lambda request: (200, [], b"[]")
    url = httpx.URL(f"http://127.0.0.1:{http_server.port}/items")
    async with _http_client(http_server) as client:
        response = await client.request("GET", url, idempotent=True)
        with_params = await client.request("GET", url, idempotent=True, params={"q": "a b"})
    assert response.request.url is url
    assert with_params.request.url.params["q"] == "a b"
    assert [r.target for r in http_server.requests] == ["/items", "/items?q=a+b"]


async def test_net4_redirects_are_returned_not_followed(
    https_server: LocalServer, tls: TlsSetup
) -> None:
    https_server.routes["/old"] = lambda request: (
        302, [("Location", f"https://other.test:{https_server.port}/new")], b"moved")
    async with _tls_client(https_server, tls, "api.test", "other.test") as client:
        response = await client.request(
            "GET", f"https://api.test:{https_server.port}/old", idempotent=True,
            headers={"Authorization": "Bearer t0ken-value"})
    assert response.status_code == 302
    assert response.headers["location"].endswith("/new")
    assert [r.target for r in https_server.requests] == ["/old"]


async def test_net4_followed_redirect_drops_credentials_on_host_change(
    https_server: LocalServer, tls: TlsSetup
) -> None:
    port = https_server.port
    https_server.routes["/a"] = lambda request: (307, [("Location", "/b")], b"")
    https_server.routes["/b"] = lambda request: (
        308, [("Location", f"https://other.test:{port}/c")], b"")
    https_server.routes["/c"] = lambda request: (200, [], b"done")
    headers = {"Authorization": "Bearer t0ken-value", "X-Api-Key": "k3y-value",
               "Accept": "application/json"}
    async with _tls_client(https_server, tls, "api.test", "other.test") as client:
        response = await client.request(
            "POST", f"https://api.test:{port}/a", idempotent=False, headers=headers,
            json={"x": 1}, max_redirects=3)
    assert response.text == "done"
    first, same_host, other_host = https_server.requests
    assert same_host.headers["authorization"] == "Bearer t0ken-value"
    assert same_host.body == first.body == b'{"x":1}'
    assert other_host.headers["host"] == f"other.test:{port}"
    assert "authorization" not in other_host.headers
    assert "x-api-key" not in other_host.headers
    assert other_host.headers["accept"] == "application/json"


async def test_net4_every_redirect_hop_is_rechecked(
    https_server: LocalServer, tls: TlsSetup
) -> None:
    https_server.routes["/a"] = lambda request: (
        302, [("Location", f"https://other.test:{https_server.port}/")], b"")
    async with _tls_client(https_server, tls, "api.test") as client:
        with pytest.raises(EgressDenied):
            await client.request("GET", f"https://api.test:{https_server.port}/a",
                                 idempotent=True, max_redirects=5)
    assert len(https_server.requests) == 1


async def test_net4_see_other_turns_a_post_into_a_get(http_server: LocalServer) -> None:
    http_server.routes["/submit"] = lambda request: (303, [("Location", "/result")], b"")
    http_server.routes["/result"] = lambda request: (200, [], b"ok")
    async with _http_client(http_server) as client:
        response = await client.request(
            "POST", f"http://127.0.0.1:{http_server.port}/submit", idempotent=False,
            content=b"payload", headers={"Content-Type": "text/plain"}, max_redirects=1)
    assert response.text == "ok"
    follow = http_server.requests[1]
    assert (follow.method, follow.body) == ("GET", b"")
    assert "content-type" not in follow.headers


async def test_net5_response_body_is_capped(http_server: LocalServer) -> None:
    http_server.routes["/big"] = lambda request: (200, [], b"x" * 300_000)
    http_server.routes["/small"] = lambda request: (200, [], b"x" * 1000)
    async with _http_client(http_server, max_body_bytes=100_000) as client:
        with pytest.raises(PermanentError, match="exceeds 100000 bytes"):
            await client.request("GET", f"http://127.0.0.1:{http_server.port}/big",
                                 idempotent=True)
        small = await client.request("GET", f"http://127.0.0.1:{http_server.port}/small",
                                     idempotent=True)
    assert small.content == b"x" * 1000


async def test_net5_default_body_cap_is_five_megabytes(http_server: LocalServer) -> None:
    http_server.routes["/huge"] = lambda request: (200, [], b"x" * (5 * 1024 * 1024 + 1))
    async with _http_client(http_server) as client:
        with pytest.raises(PermanentError, match="exceeds"):
            await client.request("GET", f"http://127.0.0.1:{http_server.port}/huge",
                                 idempotent=True)


async def test_net5_environment_proxies_and_netrc_are_ignored(
    http_server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    proxy = LocalServer()
    listener = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    proxy_url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login ambient password from-netrc\n")
    netrc.chmod(0o600)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("NETRC", str(netrc))
    http_server.routes["/"] = lambda request: (200, [], b"direct")
    try:
        async with _http_client(http_server) as client:
            response = await client.request("GET", f"http://127.0.0.1:{http_server.port}/",
                                            idempotent=True)
    finally:
        await proxy.stop(listener)
    assert response.text == "direct"
    assert proxy.connections == 0
    assert "authorization" not in http_server.requests[0].headers


async def test_wf8_retry_after_seconds_is_honoured(http_server: LocalServer) -> None:
    answers = iter([(503, [("Retry-After", "7")], b"busy"), (200, [], b"ok")])
    http_server.routes["/"] = lambda request: next(answers)
    sleep = FakeSleep()
    async with _http_client(http_server, sleep=sleep) as client:
        response = await client.request("POST", f"http://127.0.0.1:{http_server.port}/",
                                        idempotent=False, content=b"once")
    assert response.text == "ok"
    assert sleep.calls == [7.0]
    assert [r.body for r in http_server.requests] == [b"once", b"once"]


async def test_wf8_retry_after_http_date_is_honoured(http_server: LocalServer) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30),
                                       usegmt=True)
    answers = iter([(429, [("Retry-After", when)], b"slow down"), (200, [], b"ok")])
    http_server.routes["/"] = lambda request: next(answers)
    sleep = FakeSleep()
    async with _http_client(http_server, sleep=sleep) as client:
        await client.request("GET", f"http://127.0.0.1:{http_server.port}/", idempotent=True)
    assert len(sleep.calls) == 1
    assert 20 < sleep.calls[0] <= 30


async def test_wf8_backoff_is_exponential_with_full_jitter(http_server: LocalServer) -> None:
    http_server.routes["/"] = lambda request: (503, [], b"down")
    sleep = FakeSleep()
    async with _http_client(http_server, sleep=sleep, max_attempts=4, backoff_base=1.0,
                            jitter=lambda: 0.5) as client:
        with pytest.raises(TransientError, match="HTTP 503"):
            await client.request("GET", f"http://127.0.0.1:{http_server.port}/",
                                 idempotent=True)
    assert sleep.calls == [0.5, 1.0, 2.0]
    assert len(http_server.requests) == 4


async def test_wf8_a_far_retry_after_is_handed_to_the_caller(http_server: LocalServer) -> None:
    http_server.routes["/"] = lambda request: (429, [("Retry-After", "3600")], b"")
    sleep = FakeSleep()
    async with _http_client(http_server, sleep=sleep) as client:
        with pytest.raises(TransientError) as caught:
            await client.request("GET", f"http://127.0.0.1:{http_server.port}/",
                                 idempotent=True)
    assert caught.value.retry_after == 3600.0
    assert sleep.calls == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("idempotent", "sleeps"), [(True, 2), (False, 0)])
async def test_wf6_connect_errors_are_retried_only_for_idempotent_requests(
    idempotent: bool, sleeps: int
) -> None:
    port = _closed_port()
    policy = EgressPolicy(allowed_hosts=("127.0.0.1",), allowed_ports=(port,),
                          allow_http=True, allow_private=LOOPBACK)
    sleep = FakeSleep()
    async with GuardedClient(policy, sleep=sleep) as client:
        with pytest.raises(TransientError, match="cannot connect") as caught:
            await client.request("POST", f"http://127.0.0.1:{port}/", idempotent=idempotent)
    assert len(sleep.calls) == sleeps
    assert caught.value.outcome_unknown is False  # nothing was sent


async def test_timeouts_are_transient(http_server: LocalServer) -> None:
    async def stall(request: Recorded) -> tuple[int, list[tuple[str, str]], bytes]:
        await asyncio.Event().wait()  # never answers; cancelled when the server stops
        return 200, [], b"late"

    http_server.routes["/slow"] = stall
    async with _http_client(http_server, timeout=aiohttp.ClientTimeout(sock_read=0.2)) as client:
        with pytest.raises(TransientError, match="timed out") as caught:
            await client.request("GET", f"http://127.0.0.1:{http_server.port}/slow",
                                 idempotent=True)
    assert caught.value.outcome_unknown is True  # WF-6: it may have been processed


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, CredentialError), (403, CredentialError), (404, PermanentError),
     (422, PermanentError), (500, TransientError), (502, TransientError)],
)
async def test_statuses_map_to_errors_with_a_scrubbed_excerpt(
    http_server: LocalServer, status: int, error: type[Exception]
) -> None:
    secret = "canary-8f3a61d0c2e94b7a"
    register_secret(secret)
    http_server.routes["/"] = lambda request: (
        status, [], f"error: you sent {request.headers.get('x-api-key')}\n  " .encode()
        + b"detail " * 100)
    sleep = FakeSleep()
    async with _http_client(http_server, sleep=sleep) as client:
        with pytest.raises(error) as caught:
            await client.request("GET", f"http://127.0.0.1:{http_server.port}/",
                                 idempotent=True, headers={"X-Api-Key": secret})
    message = str(caught.value)
    assert f"HTTP {status}" in message
    assert "you sent [REDACTED]" in message
    assert secret not in message
    assert len(message) < 300
    assert sleep.calls == []  # only 429 and 503 are retried here
    assert len(http_server.requests) == 1
    if isinstance(caught.value, TransientError):  # WF-6: a 5xx may follow the effect
        assert caught.value.outcome_unknown is True


async def test_wf6_busy_answers_say_the_request_was_not_processed(
    http_server: LocalServer
) -> None:
    http_server.routes["/"] = lambda request: (503, [], b"busy")
    async with _http_client(http_server, sleep=FakeSleep()) as client:
        with pytest.raises(TransientError) as caught:
            await client.request("POST", f"http://127.0.0.1:{http_server.port}/",
                                 idempotent=False)
    assert caught.value.outcome_unknown is False


async def test_ca_bundle_is_trusted_in_addition_to_the_defaults(
    https_server: LocalServer, tls: TlsSetup
) -> None:
    https_server.routes["/"] = lambda request: (200, [], b"trusted")
    policy = EgressPolicy(allowed_hosts=("api.test",), allowed_ports=(https_server.port,),
                          allow_private=LOOPBACK)
    url = f"https://api.test:{https_server.port}/"
    async with GuardedClient(policy, resolver=RESOLVER) as client:
        with pytest.raises(PermanentError, match="not trusted"):
            await client.request("GET", url, idempotent=True)
    settings = Settings.from_env({"FIRELINE_EGRESS_CA_BUNDLE": str(tls.bundle)})
    async with GuardedClient.for_settings(settings, policy, resolver=RESOLVER) as client:
        assert (await client.request("GET", url, idempotent=True)).text == "trusted"


async def test_certificate_must_name_the_url_host(
    wrong_name_server: LocalServer, tls: TlsSetup
) -> None:
    async with _tls_client(wrong_name_server, tls) as client:
        with pytest.raises(PermanentError, match="not trusted"):
            await client.request("GET", f"https://api.test:{wrong_name_server.port}/",
                                 idempotent=True)
    assert wrong_name_server.requests == []


async def test_the_uvloop_variant_runs_on_uvloop(
    http_server: LocalServer, request: pytest.FixtureRequest
) -> None:
    http_server.routes["/"] = lambda request: (200, [], b"ok")
    loop = type(asyncio.get_running_loop())
    assert ("uvloop" in loop.__module__) == request.node.name.endswith("[uvloop]")
    async with _http_client(http_server) as client:
        assert (await client.request("GET", f"http://127.0.0.1:{http_server.port}/",
                                     idempotent=True)).text == "ok"
