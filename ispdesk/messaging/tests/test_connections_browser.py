"""The connection pages in Chromium: the QR and status appear live, the test button answers
inline, and the list's badges follow the sessions."""

from __future__ import annotations

from typing import Any

import pytest

from ispdesk.messaging.connections import Probe, record_session_state
from ispdesk.messaging.tests.test_connections import QR_IMAGE, make_connection
from ispdesk.operators.tests.test_browser import TIMEOUT_MS
from ispdesk.testing.browser import page_as
from ispdesk.testing.fakes import fake_evolution  # noqa: F401
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def live_page(browser: Any, server: Any, user: Any, path: str) -> Any:
    from playwright.sync_api import expect

    page = page_as(browser, server, user)
    page.goto(f"{server.url}{path}")
    expect(page.locator("body")).to_have_attribute(
        "data-realtime-state", "connected", timeout=TIMEOUT_MS
    )
    return page


def test_the_qr_appears_and_goes_away_live_until_connected(
    live_asgi,  # noqa: F811
    browser,
    admin,
    fake_evolution,  # noqa: F811
):
    from playwright.sync_api import expect

    connection = make_connection("evolution", "Soporte", config=fake_evolution.config())
    page = live_page(browser, live_asgi, admin, f"/whatsapp/connections/{connection.pk}/")
    panel = page.locator("#connection-status")
    expect(panel.locator("[data-status]")).to_have_attribute("data-status", "unknown")

    record_session_state(connection, Probe(ok=True, state="qr", qr=QR_IMAGE))
    expect(panel.locator("img[data-qr]")).to_have_attribute("src", QR_IMAGE, timeout=TIMEOUT_MS)
    expect(panel.locator("[data-status]")).to_have_attribute("data-status", "qr")

    record_session_state(connection, Probe(ok=True, state="connected", detail="ISP Demo"))
    expect(panel.locator("[data-status]")).to_have_attribute(
        "data-status", "connected", timeout=TIMEOUT_MS
    )
    expect(panel.locator("img[data-qr]")).to_have_count(0)
    expect(panel).to_contain_text("ISP Demo")

    # The test button answers under itself, without leaving the page.
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#connection-test-result")).to_contain_text(
        "The gateway answered.", timeout=TIMEOUT_MS
    )
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_the_list_badges_follow_the_sessions_live(live_asgi, browser, admin):  # noqa: F811
    from playwright.sync_api import expect

    connection = make_connection("simulator", "Demo")
    page = live_page(browser, live_asgi, admin, "/whatsapp/")
    badge = page.locator(f"#connection-{connection.pk} [data-status]")
    expect(badge).to_have_attribute("data-status", "unknown")
    record_session_state(connection, Probe(ok=False, state="disconnected", detail="refused"))
    expect(badge).to_have_attribute("data-status", "disconnected", timeout=TIMEOUT_MS)
    expect(page.locator(f"#connection-{connection.pk}")).to_contain_text("refused")
