"""The served-process layer: every tool's fake started once, then `fireline serve` (SQLite, as
`make run` runs it) reaching them by their real host names. Tests here talk HTTP only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import trustme

from tests.integrations.support import ca_bundle, serve
from tests.served.cases import CASES
from tests.served.harness import Served, connect_to


@pytest.fixture(scope="session")
def served_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def fake_routes(served_ca: trustme.CA,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, int], int]]:
    """(host, port) → loopback port, for every tool case's fake."""
    tmp = tmp_path_factory.mktemp("served-fakes")
    routes: dict[tuple[str, int], int] = {}
    with ExitStack() as stack:
        for case in CASES:
            fake = stack.enter_context(serve(case.fake(), served_ca, tmp, *case.hosts))
            routes.update({(host, case.port): fake.port for host in case.hosts})
        yield routes


def base_env(ca: trustme.CA, routes: dict[tuple[str, int], int]) -> dict[str, str]:
    tools_env = {name: value for case in CASES for name, value in case.env.items()}
    return {
        **tools_env,
        "FIRELINE_EGRESS_ALLOW_PRIVATE": "127.0.0.0/8",
        "FIRELINE_EGRESS_CA_BUNDLE": str(ca_bundle(ca)),
        "FIRELINE_EGRESS_CONNECT_TO": connect_to(routes),
        # Periodic checks every few seconds, so that a test sees one.
        "FIRELINE_HEALTH_CHECK_INTERVAL_SECONDS": "2",
    }


@pytest.fixture(scope="session")
def served(served_ca: trustme.CA, fake_routes: dict[tuple[str, int], int]) -> Iterator[Served]:
    with Served.start(base_env(served_ca, fake_routes)) as running:
        yield running
