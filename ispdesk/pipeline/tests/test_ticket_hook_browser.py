"""The ticket webhook's settings page in Chromium: edit the mapping, and a new secret only
after the confirmation is accepted."""

from __future__ import annotations

from typing import Any

import pytest

from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.ticket_hook import hook_system
from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def test_an_admin_maps_a_new_field_and_rotates_the_secret(live_asgi, admin, browser):  # noqa: F811
    from playwright.sync_api import expect

    old = hook_system().hook_secret
    page = page_as(browser, live_asgi, admin)
    page.goto(f"{live_asgi.url}/integrations/ticket-webhook/")
    expect(page.locator("#ticket-hook-url")).to_have_value(f"{live_asgi.url}/hooks/tickets/{old}/")

    page.get_by_label("Accept tickets").check()
    page.get_by_label("Their field 10", exact=True).fill("Prioridad del caso")
    page.get_by_label("Our field 10", exact=True).select_option("body")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".messages")).to_contain_text("Webhook settings saved.")
    system = ExternalSystem.objects.get(kind=SystemKind.TICKET_HOOK)
    assert system.enabled is True
    assert system.config["mapping"]["Prioridad del caso"] == "body"
    assert system.config["mapping"]["Numero de  cliente"] == "customer_id"

    dialogs: list[str] = []

    def answer(dialog: Any) -> None:
        dialogs.append(dialog.message)
        # The first time the admin thinks better of it; the second time they mean it.
        if len(dialogs) == 1:
            dialog.dismiss()
        else:
            dialog.accept()

    page.on("dialog", answer)
    page.get_by_role("button", name="New secret").click()
    assert len(dialogs) == 1
    assert ExternalSystem.objects.get(pk=system.pk).hook_secret == old

    page.get_by_role("button", name="New secret").click()
    expect(page.locator(".messages")).to_contain_text("the old one no longer works")
    new = ExternalSystem.objects.get(pk=system.pk).hook_secret
    assert new != old
    expect(page.locator("#ticket-hook-url")).to_have_value(f"{live_asgi.url}/hooks/tickets/{new}/")
