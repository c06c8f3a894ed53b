"""The contact pages in Chromium: live search, and an import preview then confirmation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ispdesk.contacts.models import Contact
from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def test_typing_in_the_search_box_swaps_the_results(live_asgi, browser, operator):  # noqa: F811
    from playwright.sync_api import expect

    Contact.objects.create(name="Marta Gómez", phone="+5491122334455", dni="12345678")
    Contact.objects.create(name="Juan Pérez", phone="+5493515550003")
    page = page_as(browser, live_asgi, operator)
    page.goto(f"{live_asgi.url}/contacts/")
    results = page.locator("#contact-results")
    expect(results.locator("tbody tr")).to_have_count(2)

    page.get_by_label("Search").fill("2233")

    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text("Marta Gómez")
    expect(results).to_contain_text("+54 9 11 2233-4455")
    # The address follows the search, so reloading or sharing it keeps the results.
    expect(page).to_have_url(re.compile(r"/contacts/\?q=2233(&|$)"))

    page.get_by_label("Search").fill("12.345")
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text("DNI 12.345.678")


def test_a_supervisor_previews_then_applies_an_import(
    live_asgi,  # noqa: F811
    browser,
    supervisor,
    tmp_path: Path,
):
    from playwright.sync_api import expect

    Contact.objects.create(name="Marta Gómez", phone="+5491122334455")
    upload = tmp_path / "contactos.csv"
    upload.write_bytes(
        "nombre;teléfono;dni\r\nMarta Gómez;11 2233-4455;12.345.678\r\n"
        "Juan Pérez;351 555-0003;\r\nNadie;hola;\r\n".encode("latin-1")
    )
    page = page_as(browser, live_asgi, supervisor)
    page.goto(f"{live_asgi.url}/contacts/import/")

    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Preview").click()

    table = page.locator(".import-table")
    expect(table.locator('tr[data-row="2"]')).to_contain_text("Update")
    expect(table.locator('tr[data-row="2"]')).to_contain_text("changes DNI")
    expect(table.locator('tr[data-row="3"]')).to_contain_text("Create")
    expect(table.locator('tr[data-row="4"]')).to_contain_text("invalid phone")
    assert Contact.objects.count() == 1

    page.get_by_role("button", name="Apply import").click()

    expect(page.locator(".messages")).to_contain_text("Created: 1; updated: 1; unchanged: 0")
    assert Contact.objects.count() == 2
    assert Contact.objects.get(phone="+5491122334455").dni == "12345678"
