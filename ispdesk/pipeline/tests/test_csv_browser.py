"""The Gestión Real CSV import in Chromium: upload the export, read the preview, import."""

from __future__ import annotations

from pathlib import Path

import pytest

from ispdesk.testing.browser import page_as
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401
from ispdesk.tickets.models import Source, Ticket

FIXTURE = Path(__file__).parents[2] / "integrations/gestionreal/tests/fixtures/casos_export.csv"

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def test_an_admin_uploads_the_export_previews_and_imports(live_asgi, browser, admin):  # type: ignore[no-untyped-def]  # noqa: F811
    from playwright.sync_api import expect

    page = page_as(browser, live_asgi, admin)
    page.goto(f"{live_asgi.url}/integrations/csv/")

    page.get_by_label("File").set_input_files(str(FIXTURE))
    page.get_by_role("button", name="Preview").click()

    table = page.locator(".csv-cases")
    first = table.locator('tr[data-case="10234"]')
    expect(first).to_contain_text("Create")
    expect(first).to_contain_text("Sin señal desde ayer")
    expect(first).to_contain_text("Gómez, María Laura")
    closed = table.locator('tr[data-case="10237"]')
    expect(closed).to_contain_text("Cerrado")
    expect(closed).to_contain_text("state Cerrado is closed")
    expect(table.locator('tr[data-row="8"]')).to_contain_text("5 columns instead of 20")
    expect(page.locator('[data-count="create"]')).to_have_text("4")
    assert not Ticket.objects.exists()

    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.locator(".messages")).to_contain_text("Tickets created: 4")
    expect(table.locator('tr[data-case="10234"]')).to_contain_text("Created")
    assert Ticket.objects.filter(source=Source.CSV).count() == 4
    ticket = Ticket.objects.get(external_id="10234")
    expect(table.locator('tr[data-case="10234"] a')).to_have_text(f"#{ticket.pk}")
