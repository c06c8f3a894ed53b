"""Chromium for the browser tests: the binary and its flags, a launcher, the `browser`
fixture (offered to every test by `ispdesk/conftest.py`) and logged-in English pages.

    def test_it_shows_the_queue(live_asgi, browser, admin):
        page = page_as(browser, live_asgi, admin)
        page.goto(f"{live_asgi.url}/tickets/")

A module whose pages need more Chromium flags overrides `chromium_extra_args`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

    from ispdesk.accounts.models import User
    from ispdesk.testing.live_asgi import LiveServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless and quiet: no GPU, no sandbox (tests may run as root), no calls home.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DESKTOP = {"width": 1280, "height": 900}


def launch_chromium(playwright: Playwright, *extra_args: str) -> Browser:
    """The system Chromium with `CHROMIUM_ARGS` and then `extra_args`."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])


@pytest.fixture
def chromium_extra_args() -> Sequence[str]:
    """Flags `browser` adds to `CHROMIUM_ARGS`; override it in a module that needs some."""
    return ()


@pytest.fixture
def browser(
    monkeypatch: pytest.MonkeyPatch, chromium_extra_args: Sequence[str]
) -> Iterator[Browser]:
    """Chromium for one test. List it after the fixtures that use the database."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are ours.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright, *chromium_extra_args)
        try:
            yield chromium
        finally:
            chromium.close()
            # ORM calls inside Playwright's sync block run in its greenlet's context, with a
            # connection of their own: close it, or it outlives the test database.
            connections.close_all()


def english_context(browser: Browser, **options: Any) -> BrowserContext:
    """A context whose pages are in English: the language switch's cookie, as a person
    would set it (pages ignore the browser's Accept-Language and default to Spanish)."""
    context = browser.new_context(locale="en", **options)
    context.add_cookies(
        [
            {
                "name": settings.LANGUAGE_COOKIE_NAME,
                "value": "en",
                "domain": "127.0.0.1",
                "path": "/",
            }
        ]
    )
    return context


def page_as(browser: Browser, server: LiveServer, user: User, **context_options: Any) -> Page:
    """A page logged in as `user`, in an English context of its own. `context_options` go
    to `new_context`; the viewport is `DESKTOP` unless given."""
    context_options.setdefault("viewport", DESKTOP)
    client = Client()
    client.force_login(user)
    context = english_context(browser, **context_options)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": server.url}]
    )
    return context.new_page()
