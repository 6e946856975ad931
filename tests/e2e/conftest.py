"""Browser tests: Playwright driving the system's Chromium against pytest-django's live server.

Chromium is Debian's ``chromium`` package (``make test`` installs it through
scripts/ensure-chromium when it runs as root); Playwright never downloads a browser here.
``CHROMIUM_PATH`` names another binary. Without a Chromium every test here is skipped with one
line saying what to install.

Each xdist worker has its own live server (pytest-django's ``live_server``, session-scoped) and
each test its own Playwright and browser, started and stopped around it: while Playwright runs,
its event loop counts as running in the test's thread, so the test sets
``DJANGO_ALLOW_ASYNC_UNSAFE`` for exactly that long and no other test in the worker is affected.

Screenshots go to ``var/e2e-screenshots/<database>/<test>/<NN-step>.png`` (``E2E_SCREENSHOTS``
moves the folder): one folder per database, so CI's SQLite and PostgreSQL passes keep theirs.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import roles

SKIPPED = "browser tests skipped: "
INSTALL_HINT = "install Debian's package 'chromium' (make test does, as root) or set CHROMIUM_PATH"
# Flags of a headless Chromium on a machine without network or display (as root, no sandbox).
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
# A story waits this long for a page or an element before failing (not Playwright's 30 s).
TIMEOUT_MS = 10_000


def find_chromium() -> tuple[str | None, str]:
    """(path, "") of the Chromium to drive, or (None, why there is none)."""
    configured = os.environ.get("CHROMIUM_PATH", "")
    if configured:
        if Path(configured).is_file() and os.access(configured, os.X_OK):
            return configured, ""
        return None, f"CHROMIUM_PATH={configured} is not an executable"
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found, ""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium", ""
    return None, "no Chromium found"


def screenshot_root() -> Path:
    """Where this run's screenshots go: one folder per database vendor."""
    from django.conf import settings

    base = os.environ.get("E2E_SCREENSHOTS") or Path(settings.BASE_DIR) / "var" / "e2e-screenshots"
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return Path(base) / ("sqlite" if engine.startswith("sqlite") else engine)


# --- Browser -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path, reason = find_chromium()
    if path is None:
        pytest.skip(f"{SKIPPED}{reason}; {INSTALL_HINT}")
    return path


@pytest.fixture(autouse=True)
def _e2e(chromium_path, transactional_db) -> None:
    """Skip before touching the database when there is no browser; otherwise put back the role
    groups an earlier transactional test's flush removed (tests/e2e/roles.py)."""
    roles.restore()


@pytest.fixture
def browser(chromium_path) -> Iterator[Any]:
    from django.db import connections
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=LAUNCH_ARGS)
        yield browser
        browser.close()
    finally:
        # While Playwright's loop counts as running, Django keeps this thread's database
        # connections apart from the usual ones (asgiref's Local): close those here, or the
        # session they hold stops the test database from being dropped.
        connections.close_all()
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_page(request, browser, live_server, shoot) -> Iterator[Callable[..., Any]]:
    """``open_page(locale="en-US", time_zone="UTC")``: a page in a fresh browser context (its
    own cookies) whose relative URLs go to the live server. A failing test leaves a last
    screenshot of each page it opened (``NN-failure.png``)."""
    contexts = []

    def open_page(*, locale: str = "en-US", time_zone: str = "UTC") -> Any:
        context = browser.new_context(
            base_url=live_server.url, locale=locale, timezone_id=time_zone, viewport=VIEWPORT
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    report = getattr(request.node, "e2e_report", None)
    if report is not None and report.failed:
        for context in contexts:
            for page in context.pages:
                shoot(page, "failure")
    for context in contexts:
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_report = report
    return report


# --- People --------------------------------------------------------------------------------------


PASSWORD = "correct horse battery staple"  # StaffFactory's


def log_in(page: Any, user: Any) -> None:
    """Sign in through the admin's login form, as a person does."""
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", user.get_username())
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")
    page.wait_for_url("**/admin/")


# --- Screenshots ---------------------------------------------------------------------------------


@pytest.fixture
def shoot(request) -> Callable[[Any, str], Path]:
    """``shoot(page, "step")`` saves the whole page as the test's next numbered PNG."""
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    folder = screenshot_root() / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    numbers = itertools.count(1)

    def shoot(page: Any, step: str) -> Path:
        path = folder / f"{next(numbers):02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot


# --- Layout checks -------------------------------------------------------------------------------

BOX = (
    "(selector) => { const b = document.querySelector(selector).getBoundingClientRect();"
    " return {left: b.left, right: b.right, width: b.width}; }"
)
# Where an element's text sits inside its own box: the gap on each side.
TEXT_GAPS = """(selector) => {
  const element = document.querySelector(selector);
  const range = document.createRange();
  range.selectNodeContents(element);
  const text = range.getBoundingClientRect(), box = element.getBoundingClientRect();
  return {start: text.left - box.left, end: box.right - text.right};
}"""


def box(page: Any, selector: str) -> dict[str, float]:
    return page.evaluate(BOX, selector)


def assert_right_to_left(page: Any) -> None:
    """The page reads right to left: the document says so, the header is mirrored (site name
    on the right, the user's links on the left) and the heading's text hugs the right."""
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    assert box(page, "#site-name")["left"] > box(page, "#user-tools")["right"]
    gaps = page.evaluate(TEXT_GAPS, "#content h1")
    assert gaps["end"] < gaps["start"], gaps


def assert_left_to_right(page: Any) -> None:
    assert page.evaluate("document.documentElement.dir") == "ltr"
    assert box(page, "#site-name")["right"] < box(page, "#user-tools")["left"]


# --- The summary line ----------------------------------------------------------------------------


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Say whether the browser tests ran, and where their screenshots are, or why not."""
    reports = [
        report
        for key in ("passed", "failed", "skipped", "error")
        for report in terminalreporter.stats.get(key, [])
        if getattr(report, "nodeid", "").startswith("tests/e2e/")
        and (report.when == "call" or report.outcome != "passed")
    ]
    if not reports:
        return
    ran = [report for report in reports if not report.skipped]
    reasons = sorted(
        {
            str(report.longrepr[2]).removeprefix("Skipped: ").removeprefix(SKIPPED)
            for report in reports
            if report.skipped and isinstance(report.longrepr, tuple)
        }
    )
    write = terminalreporter.write_line
    terminalreporter.section("browser tests", sep="-")
    if ran:
        folder = screenshot_root()
        count = len(list(folder.glob("*/*.png"))) if folder.exists() else 0
        write(f"browser tests: {len(ran)} ran; {count} screenshots in {folder}")
    for reason in reasons:
        write(f"browser tests: SKIPPED ({reason})")
