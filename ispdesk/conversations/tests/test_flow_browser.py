"""The flow builder in Chromium: build a flow, try it, save it, find it again."""

from __future__ import annotations

import os
import re

import pytest

from ispdesk.conversations.models import Flow
from ispdesk.operators.models import Area
from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401

SCREENSHOT = os.environ.get("ISPDESK_FLOW_SCREENSHOT", "")

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def test_an_admin_builds_tries_and_saves_a_flow(live_asgi, browser, admin):  # noqa: F811
    from playwright.sync_api import expect

    soporte = Area.objects.create(name="Soporte")
    Area.objects.create(name="Archivo", active=False)
    page = page_as(browser, live_asgi, admin)
    page.goto(f"{live_asgi.url}/flows/new/")
    page.get_by_label("Name").fill("Principal")

    root = page.locator('[data-node-id="inicio"]')
    expect(root.get_by_label("Text")).to_have_value("Hello! Reply with the number of an option:")
    root.get_by_label("New node's type").select_option("redirect")
    root.get_by_role("button", name="Add", exact=True).click()

    option = root.locator('[data-node-id="redirect-2"]')
    expect(option.get_by_label("Option number")).to_have_value("1")
    expect(option.get_by_label("Label in the menu")).to_be_focused()
    option.get_by_label("Label in the menu").fill("Soporte técnico")
    option.get_by_label("Keywords (comma-separated)").fill("internet, <b>wifi</b>")
    option.get_by_label("Text").fill("Te paso con Soporte.")
    area_select = option.get_by_label("Area")
    expect(area_select.locator("option")).to_have_text(["Choose an area", "Soporte"])
    area_select.select_option(label="Soporte")

    # Try the unsaved draft: the menu, then the option's redirect.
    chat = page.locator("[data-flow-try]")
    chat.get_by_label("Customer's message").fill("hola")
    chat.get_by_role("button", name="Send").click()
    expect(chat.locator(".flow-try-bot")).to_have_text(
        ["Hello! Reply with the number of an option:\n1. Soporte técnico"]
    )
    chat.get_by_label("Customer's message").fill("<b>wifi</b>")
    chat.get_by_role("button", name="Send").click()
    expect(chat.locator('[data-effect="redirect"]')).to_have_text("→ Soporte")
    # What people typed stays text.
    expect(chat.locator(".flow-try-customer").nth(1)).to_have_text("<b>wifi</b>")
    assert chat.locator("b").count() == 0
    assert not Flow.objects.exists()

    page.get_by_role("button", name="Create flow").click()
    page.wait_for_url(re.compile(r"/flows/\d+/$"))
    flow = Flow.objects.get()
    assert flow.name == "Principal"
    assert flow.definition["nodes"][1] == {
        "id": "redirect-2",
        "type": "redirect",
        "text": "Te paso con Soporte.",
        "label": "Soporte técnico",
        "option": 1,
        "keywords": ["internet", "<b>wifi</b>"],
        "area_id": soporte.pk,
        "children": [],
    }

    page.reload()
    option = page.locator('[data-node-id="inicio"] [data-node-id="redirect-2"]')
    expect(option.get_by_label("Label in the menu")).to_have_value("Soporte técnico")
    expect(option.get_by_label("Area")).to_have_value(str(soporte.pk))

    # A refused save names the node that is wrong, next to it.
    option.get_by_label("Label in the menu").fill("")
    page.get_by_role("button", name="Save flow").click()
    expect(option.locator("[data-node-error]")).to_contain_text(
        "Write the label shown in the menu."
    )
    expect(page.locator("[data-flow-alert]")).to_be_visible()
    assert Flow.objects.get().version == 1

    option.get_by_label("Label in the menu").fill("Soporte")
    page.get_by_role("button", name="Save flow").click()
    expect(page.locator("[data-flow-status]")).to_have_text("Saved.")
    expect(option.locator("[data-node-error]")).to_be_hidden()
    assert Flow.objects.get().version == 2

    # A second option moved up takes the first place and its number.
    root = page.locator('[data-node-id="inicio"]')
    root.get_by_label("New node's type").select_option("end")
    root.get_by_role("button", name="Add", exact=True).click()
    goodbye = root.locator('[data-node-id="end-3"]')
    expect(goodbye.get_by_label("Option number")).to_have_value("2")
    goodbye.get_by_label("Label in the menu").fill("Nada más")
    goodbye.get_by_label("Text").fill("¡Chau!")
    goodbye.get_by_role("button", name="Move up").click()
    options = root.locator(".flow-node-children > .flow-node")
    expect(options).to_have_count(2)
    expect(options.first).to_have_attribute("data-node-id", "end-3")
    expect(goodbye.get_by_label("Option number")).to_have_value("1")
    expect(option.get_by_label("Option number")).to_have_value("2")
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)

    # Deleting a node asks first, then takes its subtree away.
    page.once("dialog", lambda dialog: dialog.accept())
    option.get_by_role("button", name="Delete").click()
    expect(page.locator('[data-node-id="redirect-2"]')).to_have_count(0)
