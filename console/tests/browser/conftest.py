"""The console in a real browser: Playwright for Python driving the distribution's Chromium.

One Chromium for them all, a fresh context (cookies) and page per test, against pytest-django's
``live_server`` (a transactional database: what the test writes, the server sees). Timeouts are
short, so a broken page fails in seconds. A failed test leaves its page's screenshot, URL and
HTML in ``var/artifacts/browser/``.

The browser is never downloaded (no ``playwright install``): ``make test`` installs the
distribution's ``chromium`` package when missing (scripts/chromium.sh); where no Chromium can be
had, every test here skips with one message saying what to install (``-m "not browser"`` skips
them on purpose).
"""

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_NAMES = ("chromium", "chromium-browser")
TIMEOUT_MS = 5_000
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "artifacts" / "browser"
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
VIEWPORT = {"width": 1400, "height": 1000}


def chromium_path() -> str | None:
    """$CHROMIUM_PATH when set (and only it), else the first Chromium on the PATH."""
    named = os.environ.get("CHROMIUM_PATH")
    if named:
        return named if os.access(named, os.X_OK) else None
    return next((found for found in map(shutil.which, CHROMIUM_NAMES) if found), None)


NO_CHROMIUM = (
    "browser tests: no Chromium found; install the distribution's package (apt-get install chromium, "
    "or run `make test`, which does) or set CHROMIUM_PATH"
)

CHROMIUM = chromium_path()


def pytest_runtest_setup(item):
    # Raised here (this conftest's tests only), not in a fixture, so the report groups every
    # browser test under this one message: "SKIPPED [n] .../conftest.py: browser tests: ...".
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for all the browser tests (they run together: pytest-django runs its
    transactional tests as a group), closed after the last of them."""
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox refuses root
    # While the browser is open Playwright's sync API keeps an asyncio loop running in this
    # thread, so Django would take the tests' ORM calls (plain synchronous calls between page
    # steps) for calls from async code.
    with allow_async_unsafe(), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield browser
        browser.close()


@contextmanager
def allow_async_unsafe() -> Iterator[None]:
    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        yield
    finally:
        if before is None:
            del os.environ[ASYNC_UNSAFE]
        else:
            os.environ[ASYNC_UNSAFE] = before


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, locale="en-IN")
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.failed and page is not None and not page.is_closed():
        saved = save_artifacts(page, item.nodeid)
        report.sections.append(("browser artifacts", saved))
    return report


def save_artifacts(page: Page, nodeid: str) -> str:
    """The page's screenshot, URL and HTML beside each other; answers where they went."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS / re.sub(r"[^\w.-]+", "_", nodeid).strip("_")
    lines = [f"url: {page.url}"]
    Path(f"{stem}.url").write_text(page.url + "\n")
    try:  # a page caught mid-navigation may refuse either; that must not hide the failure
        page.screenshot(path=f"{stem}.png", full_page=True, timeout=TIMEOUT_MS)
        lines.append(f"screenshot: {stem}.png")
        Path(f"{stem}.html").write_text(page.content())
        lines.append(f"html: {stem}.html")
    except Exception as error:  # noqa: BLE001
        lines.append(f"could not save the page: {error}")
    return "\n".join(lines)
