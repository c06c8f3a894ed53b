"""A person opens ispdesk in a browser, logs in, and the page goes live."""

from __future__ import annotations

import re

from django.urls import reverse
from playwright.sync_api import Page, expect

from ispdesk.accounts.models import User
from ispdesk.conftest import PASSWORD
from ispdesk.realtime.events import publish_now
from ispdesk.testing.live_asgi import LiveServer
from ispdesk.tests.e2e.conftest import in_thread


def log_in(page: Page, server: LiveServer, user: User) -> None:
    page.goto(f"{server.url}/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    login_form = page.locator("form:has(input[name=username])")
    login_form.locator("input[name=username]").fill(user.username)
    login_form.locator("input[name=password]").fill(PASSWORD)
    login_form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{server.url}/")


def navigation_links(page: Page) -> list[str]:
    return [
        str(href)
        for href in page.locator("#site-nav nav a").evaluate_all(
            "links => links.map(link => link.getAttribute('href'))"
        )
    ]


def admin_pages() -> list[str]:
    return [reverse(name) for name in ("users", "settings", "jobs", "audit")]


def test_an_operator_logs_in_and_the_home_page_goes_live(live_asgi, operator, page):
    log_in(page, live_asgi, operator)

    expect(page.locator(".who-name")).to_have_text("Ana")
    expect(page.locator("h1")).to_contain_text("Ana")
    links = navigation_links(page)
    assert {reverse("home"), reverse("tokens")} <= set(links)
    assert not set(links) & set(admin_pages())
    expect(page.locator("body")).to_have_attribute("data-realtime-state", "connected")

    page.evaluate(
        "window.received = [];"
        "document.body.addEventListener('ispdesk:event', e => window.received.push(e.detail));"
    )
    in_thread(publish_now, [f"user.{operator.pk}"], {"type": "test:hello-page"})
    page.wait_for_function("window.received.some(event => event.type === 'test:hello-page')")


def test_an_admin_sees_every_page_and_switches_to_english(live_asgi, admin, page):
    log_in(page, live_asgi, admin)
    expect(page.locator("html")).to_have_attribute("lang", "es-ar")
    assert {reverse("home"), reverse("tokens"), *admin_pages()} <= set(navigation_links(page))

    page.locator("header form.lang-switch button[value=en]").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Hello, Alicia")
    expect(page.locator("#site-nav nav")).to_contain_text("Audit log")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-realtime-state", "connected")
