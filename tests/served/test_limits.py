"""Size limits and slow clients against `fireline serve` (issue 17), over raw sockets where
the client misbehaves: a body that stalls is cut off within the configured time, a 20 MB REST
body is refused (the rest read and dropped, so the client sees the 413 and not a reset) while
/healthz stays quick, and an idle half-sent request does not hold its connection for ever."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.served.harness import Served

BODY_TIMEOUT = 2
HEADER_TIMEOUT = 2


@pytest.fixture(scope="module")
def limited() -> Iterator[Served]:
    with Served.start({"FIRELINE_REQUEST_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
                       "FIRELINE_REQUEST_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT)}
                      ) as served:
        yield served


def _connect(served: Served) -> socket.socket:
    address = urlsplit(served.base_url)
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """What the server sends until it closes, and how long that took."""
    started = time.monotonic()
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic() - started


def test_a_body_that_stalls_is_answered_408_and_closed_within_the_timeout(
    limited: Served,
) -> None:
    with _connect(limited) as sock:
        sock.sendall(b"POST /v2/enqueue HTTP/1.1\r\nHost: fireline\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"")
        received, waited = _read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]
    assert b'"status":"invalid event"' in received
    assert waited < BODY_TIMEOUT + 10, waited


def test_a_20_mb_rest_body_is_refused_and_dropped_while_healthz_stays_quick(
    limited: Served,
) -> None:
    headers = {"Authorization": f"Token token={limited.api_key}",
               "Content-Type": "application/json"}
    body = b'{"service": {"name": "Big", "description": "' + b"d" * (20 << 20) + b'"}}'
    with httpx.Client(base_url=limited.base_url, timeout=60) as http:
        started = time.monotonic()
        refused = http.post("/api/services", content=body, headers=headers)
        took = time.monotonic() - started
        health_started = time.monotonic()
        assert http.get("/healthz").status_code == 200
        health = time.monotonic() - health_started
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"]["message"] == "Request body too large"
    print(f"20 MB body refused in {took * 1000:.0f} ms; /healthz then {health * 1000:.1f} ms")
    listed = limited.http.get("/api/services").json()["services"]
    assert all(service["name"] != "Big" for service in listed)


def test_a_client_still_sending_a_refused_body_reads_the_413_not_a_reset(
    limited: Served,
) -> None:
    # Closing a socket with unread bytes makes the kernel reset the connection, and a reset
    # drops what the client had not read yet: the server reads the rest and drops it first.
    with _connect(limited) as sock:
        sock.sendall(b"POST /v2/enqueue HTTP/1.1\r\nHost: fireline\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 20971520\r\n\r\n"
                     + b"x" * (1 << 20))
        time.sleep(1)  # a reset would have arrived by now
        received, _ = _read_until_closed(sock)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), received[:200]
    assert b'"status":"invalid event"' in body and body.endswith(b"}"), body


def test_half_sent_headers_are_cut_off_on_a_new_and_on_a_kept_alive_connection(
    limited: Served,
) -> None:
    with _connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: fire")
        received, waited = _read_until_closed(sock)
    assert received == b"" and waited < HEADER_TIMEOUT + 10, (received, waited)

    with _connect(limited) as sock:  # a second request on the same connection stalls
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: fireline\r\n\r\nGET /heal")
        received, waited = _read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 200 "), received[:200]
    assert received.count(b"HTTP/1.1 ") == 1 and waited < HEADER_TIMEOUT + 10, waited
