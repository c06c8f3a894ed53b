"""The Splynx settings page, its test button and the mappings fragment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from ispdesk.accounts.models import Role
from ispdesk.conftest import make_user
from ispdesk.operators.models import Operator
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.system.models import AuditEvent
from ispdesk.testing.fakes.splynx import (
    API_KEY,
    API_SECRET,
    FakeSplynx,
    serving_fake_splynx,
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    # These tests read the wording; the product speaks es-AR unless told otherwise.
    settings.LANGUAGE_CODE = "en"


PAGE = "/integrations/splynx/"
TEST = "/integrations/splynx/test/"
MAPPINGS = "/integrations/splynx/mappings/"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def splynx() -> Iterator[FakeSplynx]:
    with serving_fake_splynx() as fake:
        yield fake


def form(fake: FakeSplynx, **changes: str) -> dict[str, str]:
    return {
        "enabled": "on",
        "base_url": fake.url,
        "auth_type": "api_key",
        "login": "",
        "password": "",
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        **changes,
    }


def test_only_admins_see_the_page(
    client: Client, supervisor_client: Client, operator_client: Client
) -> None:
    assert client.get(PAGE).status_code == 302
    assert supervisor_client.get(PAGE).status_code == 403
    assert operator_client.get(PAGE).status_code == 403
    assert supervisor_client.post(TEST).status_code == 403
    assert supervisor_client.get(MAPPINGS).status_code == 403


def test_it_saves_the_settings_and_never_shows_a_credential(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    response = admin_client.post(PAGE, form(splynx))
    assert response.status_code == 302
    system = ExternalSystem.objects.get(kind=SystemKind.SPLYNX)
    assert system.enabled and system.secrets["api_secret"] == API_SECRET
    page = admin_client.get(PAGE).content.decode()
    assert API_SECRET not in page and API_KEY not in page
    assert "leave blank to keep" in page.lower() or "dejalo en blanco" in page.lower()


def test_a_blank_password_input_keeps_the_stored_one(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    admin_client.post(PAGE, form(splynx))
    admin_client.post(PAGE, form(splynx, api_key="", api_secret="", login="x"))
    system = ExternalSystem.objects.get(kind=SystemKind.SPLYNX)
    assert system.secrets == {"api_key": API_KEY, "api_secret": API_SECRET}
    assert system.config["login"] == "x"


def test_a_new_address_asks_for_the_credentials_again(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    admin_client.post(PAGE, form(splynx))
    response = admin_client.post(
        PAGE, form(splynx, base_url="https://other.example.com", api_key="", api_secret="")
    )
    assert response.status_code == 422
    assert b"field-invalid" in response.content
    assert ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config["base_url"] == splynx.url


def test_the_test_button_shows_the_administrators(admin_client: Client, splynx: FakeSplynx) -> None:
    response = admin_client.post(TEST, form(splynx), headers=HTMX)
    text = response.content.decode()
    assert 'data-test-ok="true"' in text
    assert "Ana Pérez" in text and "juan" in text
    assert AuditEvent.objects.filter(action="integration.splynx.tested").count() == 1


def test_the_test_button_says_why_it_failed(admin_client: Client, splynx: FakeSplynx) -> None:
    response = admin_client.post(TEST, form(splynx, api_secret="wrong-one-1234"), headers=HTMX)
    text = response.content.decode()
    assert 'data-test-ok="false"' in text and "wrong-one-1234" not in text
    without_js = admin_client.post(TEST, form(splynx, base_url="http://127.0.0.1:9"))
    assert without_js.status_code == 200
    assert b'data-test-ok="false"' in without_js.content
    assert b"<html" in without_js.content


def test_the_mappings_say_when_splynx_is_not_configured(admin_client: Client) -> None:
    response = admin_client.get(MAPPINGS, headers=HTMX)
    assert b"data-catalog-error" in response.content


def test_it_maps_statuses_and_operators_from_the_lists(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    admin_client.post(PAGE, form(splynx))
    ana = Operator.objects.create(user=make_user("ana2", Role.OPERATOR, first_name="Anita"))
    fragment = admin_client.get(MAPPINGS, headers=HTMX).content.decode()
    assert "Resolved" in fragment and "Juan Gómez (juan)" in fragment
    assert f'name="operator_{ana.pk}"' in fragment
    response = admin_client.post(
        MAPPINGS,
        {
            "status_new": "1",
            "status_closed": "3",
            "default_group_id": "1",
            "default_type_id": "1",
            "resolved_status_id": "3",
            "new_status_id": "1",
            f"operator_{ana.pk}": "2",
        },
        headers=HTMX,
    )
    assert response.status_code == 200 and b"data-mappings-saved" in response.content
    mappings = ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config["mappings"]
    assert mappings["statuses"] == {"new": 1, "closed": 3}
    assert mappings["resolved_status_id"] == 3
    ana.refresh_from_db()
    assert ana.person_id == 2


def test_a_value_not_in_the_lists_is_refused(admin_client: Client, splynx: FakeSplynx) -> None:
    admin_client.post(PAGE, form(splynx))
    response = admin_client.post(MAPPINGS, {"status_new": "77"}, headers=HTMX)
    assert response.status_code == 422
    assert (
        "statuses"
        not in ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config.get("mappings", {})
        or not ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config["mappings"]["statuses"]
    )
