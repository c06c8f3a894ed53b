"""realtime.js in Chromium: a bundle frame's events reach the page's listeners one by one, in
order, exactly as events sent alone do."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from ispdesk.accounts.models import User
from ispdesk.realtime.events import bundled_events, publish_now, send_event_on_commit
from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import LiveServer, live_asgi  # noqa: F401

TIMEOUT_MS = 10_000

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)

# Every event the page's realtime.js hands out, by type, in arrival order.
COLLECT = """() => {
  window.seen = [];
  document.body.addEventListener("ispdesk:event", (e) => window.seen.push(e.detail.type));
  window.firstSeen = [];
  document.body.addEventListener("ispdesk:test:first", (e) => window.firstSeen.push(e.detail.n));
}"""


@pytest.mark.django_db(transaction=True)
def test_a_bundle_frames_events_reach_the_page_one_by_one_in_order(
    browser: Any,
    live_asgi: LiveServer,  # noqa: F811
    operator: User,
) -> None:
    from playwright.sync_api import expect

    page = page_as(browser, live_asgi, operator)
    page.context.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_asgi.url}/")
    expect(page.locator("body")).to_have_attribute(
        "data-realtime-state", "connected", timeout=TIMEOUT_MS
    )
    page.evaluate(COLLECT)
    group = f"user.{operator.pk}"

    with bundled_events(), transaction.atomic():
        send_event_on_commit([group], {"type": "test:first", "n": 1})
        send_event_on_commit([group], {"type": "test:second"})
        send_event_on_commit([group], {"type": "test:first", "n": 2})
    publish_now([group], {"type": "test:alone"})

    page.wait_for_function("window.seen.length >= 4", timeout=TIMEOUT_MS)
    assert page.evaluate("window.seen") == ["test:first", "test:second", "test:first", "test:alone"]
    # The per-type event too, with each event's own detail.
    assert page.evaluate("window.firstSeen") == [1, 2]
