"""The team pages in Chromium: the schedule editor, and live badges on a supervisor's page."""

from __future__ import annotations

import pytest

from ispdesk.operators.models import Operator, Schedule, ScheduleKind
from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401

TIMEOUT_MS = 10_000

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def test_an_admin_adds_a_window_through_the_editor(live_asgi, browser, admin, sofia):  # noqa: F811
    from playwright.sync_api import expect

    page = page_as(browser, live_asgi, admin)
    page.goto(f"{live_asgi.url}/team/{sofia.pk}/schedule/")
    tuesday_work = page.locator('tr[data-weekday="1"] td[data-kind="work"]')
    expect(tuesday_work).to_have_text("—")

    form = page.locator("#add-window")
    form.get_by_label("Tuesday").check()
    form.get_by_label("Thursday").check()
    form.get_by_label("From").fill("22:00")
    form.get_by_label("To").fill("06:00")
    form.get_by_role("button", name="Add").click()

    expect(page.locator(".messages")).to_contain_text(
        "Added 22:00 → 06:00 (+1) on Tuesday, Thursday"
    )
    expect(tuesday_work.locator(".window-text")).to_have_text("22:00 → 06:00 (+1)")
    rows = Schedule.objects.filter(operator=sofia).order_by("weekday")
    assert [(row.kind, row.weekday, f"{row.start:%H:%M}-{row.end:%H:%M}") for row in rows] == [
        (ScheduleKind.WORK, 1, "22:00-06:00"),
        (ScheduleKind.WORK, 3, "22:00-06:00"),
    ]

    # An overlapping window is refused with both windows named, and nothing is stored.
    form = page.locator("#add-window")
    form.get_by_label("Tuesday").check()
    form.get_by_label("From").fill("23:00")
    form.get_by_label("To").fill("23:30")
    form.get_by_role("button", name="Add").click()
    expect(page.get_by_role("alert")).to_contain_text("Tuesday 23:00-23:30")
    expect(page.get_by_role("alert")).to_contain_text("Tuesday 22:00-06:00")
    assert Schedule.objects.filter(operator=sofia).count() == 2


def test_a_supervisors_page_shows_a_pause_made_elsewhere_live(
    live_asgi,  # noqa: F811
    browser,
    admin,
    supervisor,
    juan,
):
    from playwright.sync_api import expect

    watching = page_as(browser, live_asgi, supervisor)
    watching.goto(f"{live_asgi.url}/team/")
    expect(watching.locator("body")).to_have_attribute(
        "data-realtime-state", "connected", timeout=TIMEOUT_MS
    )
    card = watching.locator(f"#operator-{juan.pk}")
    expect(card.locator('[data-state="active"]')).to_be_visible()
    expect(card.locator('[data-state="paused"]')).to_have_count(0)

    acting = page_as(browser, live_asgi, admin)
    acting.goto(f"{live_asgi.url}/team/")
    acting.locator(f"#operator-{juan.pk}").get_by_role("button", name="Pause Juan").first.click()
    expect(acting.locator(".messages")).to_contain_text("Juan is paused")
    assert Operator.objects.get(pk=juan.pk).is_paused

    # No reload on the supervisor's page: the event makes the list refetch itself.
    expect(card.locator('[data-state="paused"]')).to_be_visible(timeout=TIMEOUT_MS)
    expect(card.locator('[data-action="resume-full"]')).to_be_visible()
    assert watching.evaluate("performance.getEntriesByType('navigation').length") == 1

    acting.locator(f"#operator-{juan.pk}").get_by_role("button", name="Resume Juan").click()
    expect(card.locator('[data-state="paused"]')).to_have_count(0, timeout=TIMEOUT_MS)
