"""The served-process layer: every tool's fake started once, then `fireline serve` (SQLite, as
`make run` runs it) reaching them by their real host names. Tests here talk HTTP only."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import trustme
from playwright.sync_api import BrowserContext, Page

from tests.integrations.support import ca_bundle, serve
from tests.served import web
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


# --- browser tests (tests/served/web.py) ---------------------------------------------------

@pytest.fixture(scope="session")
def chromium() -> Iterator[web.Chromium]:
    """Launched by the first browser test; the hook below stops it after the last of a run."""
    web.require_browser_tools()
    yield web.CHROMIUM
    web.CHROMIUM.stop()


@pytest.fixture
def browser_context(chromium: web.Chromium, served: Served) -> Iterator[BrowserContext]:
    """A fresh browser profile on the served app (relative URLs go to `served.base_url`)."""
    # SEC-1: the instance's own credentials never show on a page either.
    web.remember_secret(served.api_key, "the admin API key")
    web.remember_secret(served.owner_password, "the owner's password")
    context = chromium.new_context(served.base_url)
    yield context
    if chromium.running:  # else the hook below has stopped Chromium, and the context with it
        context.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Page:
    """A signed-out tab."""
    return browser_context.new_page()


@pytest.fixture
def signed_in_page(page: Page, served: Served) -> Page:
    """A tab signed in as the owner through the sign-in form, on the home page."""
    page.goto("/")
    web.sign_in(page, served.owner_email, served.owner_password)
    assert page.url == f"{served.base_url}/", page.url
    return page


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the last of a run of browser tests: stop Chromium before the fixtures' teardown,
    which may finish async fixtures (web.py says why), and then scan for SEC-1 leaks (a
    failure is this test's teardown error)."""
    last = ("chromium" in getattr(item, "fixturenames", ())
            and "chromium" not in getattr(nextitem, "fixturenames", ()))
    if last:
        web.CHROMIUM.stop()
    try:
        return (yield)
    finally:
        if last:
            web.check_canary()
