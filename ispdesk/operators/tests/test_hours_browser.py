"""An area's working hours in Chromium: adding a window on two weekdays through the editor."""

from __future__ import annotations

import pytest

from ispdesk.operators.models import AreaHours
from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def test_an_admin_adds_working_hours_on_two_weekdays(live_asgi, browser, admin, soporte):  # noqa: F811
    from playwright.sync_api import expect

    page = page_as(browser, live_asgi, admin)
    page.goto(f"{live_asgi.url}/team/areas/{soporte.pk}/")
    monday = page.locator('#working-hours tr[data-weekday="0"] td')
    wednesday = page.locator('#working-hours tr[data-weekday="2"] td')
    expect(monday).to_have_text("—")

    form = page.locator("#add-hours")
    form.get_by_label("Monday").check()
    form.get_by_label("Wednesday").check()
    form.get_by_label("From").fill("08:30")
    form.get_by_label("To").fill("17:00")
    form.get_by_label("Courtesy message").fill("Volvemos a las 8:30")
    form.get_by_role("button", name="Add").click()

    expect(page.locator(".messages")).to_contain_text(
        "Added 08:30 → 17:00 on Monday, Wednesday (2 windows)."
    )
    expect(monday.locator(".window-text")).to_have_text("08:30 → 17:00")
    expect(wednesday.locator(".window-text")).to_have_text("08:30 → 17:00")
    expect(page.locator('#working-hours tr[data-weekday="1"] td')).to_have_text("—")
    rows = AreaHours.objects.filter(area=soporte).order_by("weekday")
    assert [(row.weekday, f"{row.start:%H:%M}-{row.end:%H:%M}") for row in rows] == [
        (0, "08:30-17:00"),
        (2, "08:30-17:00"),
    ]
    assert {row.courtesy_message for row in rows} == {"Volvemos a las 8:30"}

    # An overlapping window is refused with both windows named, and nothing more is stored.
    form = page.locator("#add-hours")
    form.get_by_label("Monday").check()
    form.get_by_label("From").fill("16:00")
    form.get_by_label("To").fill("18:00")
    form.get_by_role("button", name="Add").click()
    expect(page.get_by_role("alert")).to_contain_text("Monday 08:30-17:00")
    expect(page.get_by_role("alert")).to_contain_text("Monday 16:00-18:00")
    assert AreaHours.objects.filter(area=soporte).count() == 2
