"""Browser tests: the live ASGI server driven by the system Chromium through Playwright.

A failing test leaves a screenshot in var/screenshots/<test name>.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import Page, sync_playwright

from ispdesk.testing.browser import CHROMIUM, launch_chromium
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401

SCREENSHOTS = Path(settings.PROJECT_DIR) / "var" / "screenshots"
TIMEOUT_MS = 15_000
T = TypeVar("T")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser page. List it after the fixtures that use the database.

    Playwright's sync API keeps an event loop running in the test's thread while it is
    started, and Django refuses database access there (SynchronousOnlyOperation); so the
    browser starts after the database fixtures, stops before their teardown, and the test
    body reaches the database through `in_thread`.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need {CHROMIUM}: run `make test-tools` (as root)")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        # Argentine users' browsers ask for Spanish; the UI follows until they choose.
        context = browser.new_context(locale="es-AR", timezone_id="America/Argentina/Buenos_Aires")
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            yield page
        finally:
            if request.node.stash.get(CALL_FAILED, False):
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^\w.-]+", "_", request.node.name)
                page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
            browser.close()


def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run database work outside the thread where Playwright's event loop runs."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(_closing_connections, function, *args).result()


def _closing_connections(function: Callable[..., T], *args: Any) -> T:
    try:
        return function(*args)
    finally:
        connections.close_all()
