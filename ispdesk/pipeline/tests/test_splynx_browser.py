"""The Splynx settings page in Chromium, against the fake Splynx."""

from __future__ import annotations

import pytest

from ispdesk.accounts.models import Role
from ispdesk.conftest import make_user
from ispdesk.operators.models import Operator
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.testing.browser import page_as
from ispdesk.testing.fakes.splynx import API_KEY, API_SECRET, fake_splynx  # noqa: F401
from ispdesk.testing.live_asgi import live_asgi  # noqa: F401

pytestmark = pytest.mark.filterwarnings(
    "ignore:StreamingHttpResponse must consume synchronous iterators"
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def test_an_admin_connects_splynx_and_maps_an_operator(
    live_asgi,  # noqa: F811
    fake_splynx,  # noqa: F811
    admin,
    browser,
) -> None:
    from playwright.sync_api import expect

    sofia = Operator.objects.create(user=make_user("sofia", Role.OPERATOR, first_name="Sofía"))
    page = page_as(browser, live_asgi, admin)
    page.goto(f"{live_asgi.url}/integrations/splynx/")
    settings = page.locator("#splynx-settings")
    settings.get_by_label("Splynx address").fill(fake_splynx.url)
    settings.get_by_label("Authentication").select_option("api_key")
    settings.get_by_label("API key", exact=True).fill(API_KEY)
    settings.get_by_label("API secret").fill(API_SECRET)
    settings.get_by_label("Enabled").check()

    settings.get_by_role("button", name="Test connection").click()
    result = page.locator("#splynx-test-result")
    expect(result.locator("[data-test-ok]")).to_have_attribute("data-test-ok", "true")
    expect(result.locator("table")).to_contain_text("Juan Gómez")
    assert not ExternalSystem.objects.filter(kind=SystemKind.SPLYNX, enabled=True).exists()

    settings.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Splynx settings saved.")
    # Stored credentials are never sent back to the browser.
    assert API_SECRET not in page.content()

    mappings = page.locator("#splynx-mappings")
    mappings.get_by_label("Sofía").select_option(label="Juan Gómez (juan)")
    mappings.get_by_label("Status of a closed ticket").select_option(label="Resolved")
    mappings.get_by_role("button", name="Save mappings").click()
    expect(mappings.locator("[data-mappings-saved]")).to_be_visible()
    sofia.refresh_from_db()
    assert sofia.person_id == 2
    config = ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config
    assert config["mappings"]["resolved_status_id"] == 3
