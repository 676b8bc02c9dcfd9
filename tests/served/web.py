"""Browser tests of the web app: Debian's Chromium (`executable_path`, never a downloaded
browser) driven by Playwright's sync API against the served process.

`check_page` is the gate every visited page passes: it waits for the page to settle, writes a
full-page screenshot as a test artifact, and fails on an unexpected HTTP status, on a console
error, uncaught exception or CSP violation, and on axe-core violations of `label`,
`color-contrast`, `button-name` and every `aria-*` rule.

SEC-1: every HTML response a watched page receives and every checked page's DOM are
recorded; `remember_secret` adds a value the tests typed or created (the admin API key and the
owner's password always are); `canary_leaks` lists where any of them shows, in plain form or an
encoding. The layer's hook runs it when a run of browser tests ends.

Sync Playwright and pytest-asyncio share the main thread, and between its calls Playwright
marks its own event loop as the thread's running loop: an async test run while it lives fails
("Cannot run the event loop while another loop is running"). So `Chromium` launches for the
first browser test and is stopped by the hook after the last of a run of consecutive ones, not
at the end of the session.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus
from weakref import WeakKeyDictionary

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Response, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from fireline.web.assets import node_modules

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_PATH = Path("/usr/bin/chromium")
# No internet here: without these, Chromium reaches out to Google on its own.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 800}
TIMEOUT_MS = 15_000
AXE_RULES = ("label", "color-contrast", "button-name")
AXE_RULE_PREFIX = "aria-"
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_BUSY = ".htmx-request, .htmx-swapping, .htmx-settling"

_AXE_RUN = """async (rules) => {
  const result = await axe.run(document, {runOnly: {type: "rule", values: rules},
                                          resultTypes: ["violations"]});
  return result.violations.flatMap((violation) => violation.nodes.map((node) => ({
    rule: violation.id, help: violation.help, target: node.target.flat().join(" "),
    summary: node.failureSummary || ""})));
}"""


def axe_path() -> Path:
    return node_modules() / "axe-core" / "axe.min.js"


def artifacts_dir() -> Path:
    """Where screenshots go: `FIRELINE_TEST_ARTIFACTS`, else `build/test-artifacts/screenshots`
    (git-ignored)."""
    configured = os.environ.get("FIRELINE_TEST_ARTIFACTS")
    return Path(configured) if configured else REPO / "build" / "test-artifacts" / "screenshots"


def require_browser_tools() -> None:
    """Fails (never skips) when what `make test` installs first is missing."""
    if not os.access(CHROMIUM_PATH, os.X_OK):
        pytest.fail(f"Chromium is missing ({CHROMIUM_PATH}): `make system-deps` installs it "
                    "(scripts/install-system-deps; `make test` runs it first)", pytrace=False)
    if not axe_path().is_file():
        pytest.fail(f"axe-core is missing ({axe_path()}): `make assets` installs it (npm ci; "
                    "`make test` runs it first)", pytrace=False)


# --- SEC-1: what the browser saw, and the secrets it must never show -----------------------

@dataclass
class Record:
    """An HTML document the browser received, or a checked page's DOM."""

    what: str
    url: str
    html: str
    test: str
    # Secrets this page shows once by design (a new API key): not leaks here, everywhere else.
    shows: set[str] = field(default_factory=set)


@dataclass
class _Canary:
    secrets: dict[str, str] = field(default_factory=dict)  # value → what it is
    records: list[Record] = field(default_factory=list)
    screenshots: dict[str, str] = field(default_factory=dict)  # name → test that wrote it
    reported: set[str] = field(default_factory=set)


_CANARY = _Canary()


def remember_secret(value: str, what: str | None = None) -> str:
    """Adds `value` to the secrets no page may show (scanned over every recorded page, also
    those recorded before); returns it. Remember a value before typing it."""
    if len(value) < 8:
        raise ValueError("a canary secret needs 8 characters or more, or it matches by chance")
    _CANARY.secrets.setdefault(value, what or f"a secret remembered by {_current_test()}")
    return value


def encodings(secret: str) -> dict[str, str]:
    """The forms a secret is scanned for: those of tests/connections/test_canary.py `_forms`,
    plus HTML escaping (the pages are HTML)."""
    raw = secret.encode()
    return {"plain": secret, "base64": base64.b64encode(raw).decode().rstrip("="),
            "urlsafe base64": base64.urlsafe_b64encode(raw).decode().rstrip("="),
            "URL-quoted": quote(secret, safe=""), "URL-quoted (plus)": quote_plus(secret),
            "hex": raw.hex(), "HTML-escaped": html.escape(secret)}


def canary_leaks() -> list[str]:
    """Where a remembered secret shows: a recorded page's HTML or URL, a screenshot's name."""
    leaks = []
    for secret, what in _CANARY.secrets.items():
        forms = encodings(secret)
        for record in _CANARY.records:
            if secret in record.shows:
                continue
            for form, encoded in forms.items():
                if encoded in record.html or encoded in record.url:
                    leaks.append(f"{what} ({form}) in {record.what} {_path(record.url)} "
                                 f"loaded by {record.test}")
        for name, test in _CANARY.screenshots.items():
            if any(encoded in name for encoded in forms.values()):
                leaks.append(f"{what} in the screenshot name {name!r} of {test}")
    return leaks


def check_canary() -> None:
    """SEC-1 over everything recorded so far; each leak is reported once."""
    new = [leak for leak in canary_leaks() if leak not in _CANARY.reported]
    _CANARY.reported.update(new)
    scanned = f"{len(_CANARY.records)} recorded pages, {len(_CANARY.screenshots)} screenshots"
    assert not new, f"SEC-1: a secret shows in the web app ({scanned}):\n  " + "\n  ".join(new)


def recorded_pages() -> list[Record]:
    return list(_CANARY.records)


# --- the browser --------------------------------------------------------------------------

@dataclass
class _Watch:
    """What one page reported since its last `check_page`."""

    problems: list[tuple[str, str]] = field(default_factory=list)  # (message, its URL)
    status: int | None = None  # of the main frame's last document
    unchecked: list[Record] = field(default_factory=list)


_WATCHES: WeakKeyDictionary[Page, _Watch] = WeakKeyDictionary()


class Chromium:
    """Debian's Chromium for a run of consecutive browser tests (see the module docstring):
    launched by the first `new_context`, stopped by `stop`, launched again if needed."""

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    def new_context(self, base_url: str) -> BrowserContext:
        """A fresh profile (no cookies), every page of which is watched for `check_page`."""
        if self._browser is None:
            self._launch()
        assert self._browser is not None
        context = self._browser.new_context(base_url=base_url, viewport=VIEWPORT,  # type: ignore[arg-type]
                                            locale="en-US")
        context.set_default_timeout(TIMEOUT_MS)
        context.on("page", _watch)
        return context

    def _launch(self) -> None:
        require_browser_tools()
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM_PATH), headless=True, args=CHROMIUM_ARGS)
        except BaseException:
            self.stop()
            raise

    @property
    def running(self) -> bool:
        return self._playwright is not None

    def stop(self) -> None:
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        try:
            if browser is not None:
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()


CHROMIUM = Chromium()


def _watch(page: Page) -> None:
    watch = _WATCHES[page] = _Watch()

    def on_console(message: Any) -> None:
        if message.type == "error":  # Chromium reports CSP violations as console errors
            watch.problems.append((message.text, message.location.get("url") or page.url))

    def on_response(response: Response) -> None:
        if response.request.resource_type == "document" and response.frame == page.main_frame:
            watch.status = response.status
        if "text/html" not in response.headers.get("content-type", "") or \
                300 <= response.status < 400:  # a redirect has no body to read
            return
        try:
            body = response.text()
        except PlaywrightError as exc:
            watch.problems.append((f"its HTML could not be read for the SEC-1 scan: {exc}",
                                   response.url))
            return
        record = Record(f"{response.request.method} response", response.url, body,
                        _current_test())
        _CANARY.records.append(record)
        watch.unchecked.append(record)

    page.on("console", on_console)
    page.on("pageerror", lambda error: watch.problems.append(
        (f"uncaught {error.name}: {error.message}", page.url)))
    page.on("response", on_response)


def sign_in(page: Page, email: str, password: str) -> Response | None:
    """Fills the sign-in form on the current page and submits it with the "Sign in" button."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Sign in").click()
    return navigation.value


def status_of(page: Page) -> int | None:
    """The HTTP status of the page's current document."""
    return _WATCHES[page].status


# --- check_page ---------------------------------------------------------------------------

def check_page(page: Page, name: str, *, status: int = 200,
               shows_once: Iterable[str] = (),
               refused: tuple[int, str] | None = None) -> None:
    """Waits for the page to settle, writes `<artifacts>/<name>.png` (full page) and records
    its DOM for SEC-1, then fails on anything wrong since the last check: a document status
    other than `status` (pass 404 for a missing page on purpose: its own "Failed to load
    resource" is then expected), a console error, an uncaught exception, a CSP violation, or an
    axe-core violation. `shows_once`: secrets this page shows by design (a new key), remembered
    from now on for every other page. `refused`: (status, URL) of a form htmx posted and
    answered so on purpose (the page shows its errors): its "Failed to load resource" is
    expected, from that URL only."""
    assert _NAME.fullmatch(name), f"screenshot name {name!r}: lower-case letters, digits, '-'"
    test = _current_test()
    earlier = _CANARY.screenshots.setdefault(name, test)
    assert earlier == test, f"screenshot name {name!r} is already used by {earlier}"
    watch = _WATCHES[page]
    _settle(page)
    shown = {remember_secret(secret, f"a secret shown once on {name!r}") for secret in shows_once}
    record = Record(f"page {name!r}", page.url, page.content(), test, shown)
    _CANARY.records.append(record)
    for unchecked in watch.unchecked:
        unchecked.shows |= shown
    watch.unchecked.clear()
    directory = artifacts_dir()
    directory.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True, animations="disabled")

    problems = []
    if watch.status != status:
        problems.append(f"HTTP status {watch.status}, expected {status}")
    problems += [f"console: {text} ({_path(url)})" for text, url in watch.problems
                 if not _expected_load_error(text, url, page.url, status)
                 and not (refused and _expected_load_error(text, url, refused[1], refused[0]))]
    watch.problems.clear()
    problems += axe_violations(page)
    assert not problems, f"page {name!r} ({_path(page.url)}):\n  " + "\n  ".join(problems)


def axe_violations(page: Page) -> list[str]:
    """axe-core's violations of the rules we hold every page to, one line each."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # CDP evaluation: the page's CSP (no inline script) does not apply, unlike a <script>.
        page.evaluate(_axe_source())
    rules = [rule for rule in page.evaluate("() => axe.getRules().map((rule) => rule.ruleId)")
             if rule in AXE_RULES or rule.startswith(AXE_RULE_PREFIX)]
    missing = set(AXE_RULES) - set(rules)
    assert not missing, f"axe-core {axe_path()} has no rule {sorted(missing)}"
    return [f"axe {v['rule']}: {v['target']}: {v['help']}. {' '.join(v['summary'].split())}"
            for v in page.evaluate(_AXE_RUN, rules)]


def _settle(page: Page) -> None:
    page.wait_for_load_state("load")
    page.wait_for_function(f"() => document.readyState === 'complete' && "
                           f"!document.querySelector('{_BUSY}')")
    page.evaluate("() => document.fonts.ready.then(() => true)")


def _expected_load_error(text: str, url: str, expected_url: str, status: int) -> bool:
    own = f"Failed to load resource: the server responded with a status of {status} "
    return status >= 400 and url == expected_url and text.startswith(own)


@cache
def _axe_source() -> str:
    return axe_path().read_text()


def _current_test() -> str:
    return os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url) or "/"
