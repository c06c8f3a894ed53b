"""The Splynx settings page, its test button, the customer and time settings and the
mappings fragment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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
        "customer_match": "login",
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


def test_the_page_shows_the_customer_and_time_settings(admin_client: Client, settings: Any) -> None:
    page = admin_client.get(PAGE).content.decode()
    assert 'id="splynx-customers-time"' in page and "Customers and time" in page
    assert f'name="time_zone" value="{settings.TIME_ZONE}"' in page
    assert 'list="splynx-time-zones"' in page and '<option value="UTC">' in page
    assert "often run in UTC" in page
    assert '<option value="login" selected>' in page
    assert 'name="dni_attribute"' in page


def test_the_page_saves_the_customer_and_time_settings(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    chosen = {"customer_match": "none", "dni_attribute": "dni", "time_zone": "UTC"}
    assert admin_client.post(PAGE, form(splynx, **chosen)).status_code == 302
    config = ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config
    assert {name: config[name] for name in chosen} == chosen
    page = admin_client.get(PAGE).content.decode()
    assert 'name="time_zone" value="UTC"' in page and 'name="dni_attribute" value="dni"' in page
    assert '<option value="none" selected>' in page
    # Any IANA name, not only the suggested ones; blank turns DNI matching off.
    typed = form(splynx, customer_match="login", dni_attribute="", time_zone="Pacific/Chatham")
    assert admin_client.post(PAGE, typed).status_code == 302
    config = ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config
    assert (config["time_zone"], config["dni_attribute"]) == ("Pacific/Chatham", "")


def test_the_page_names_a_bad_zone_or_attribute(admin_client: Client, splynx: FakeSplynx) -> None:
    admin_client.post(PAGE, form(splynx, time_zone="UTC"))
    bad = form(splynx, time_zone="Mars/Base", dni_attribute="dni no")
    response = admin_client.post(PAGE, bad)
    assert response.status_code == 422
    text = response.content.decode()
    assert 'id="id_time_zone_error"' in text and "Unknown time zone" in text
    assert 'id="id_dni_attribute_error"' in text
    assert ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config["time_zone"] == "UTC"


def test_saving_the_mappings_keeps_the_customer_settings(
    admin_client: Client, splynx: FakeSplynx
) -> None:
    admin_client.post(PAGE, form(splynx, customer_match="none", time_zone="UTC"))
    response = admin_client.post(MAPPINGS, {"default_group_id": "1"}, headers=HTMX)
    assert response.status_code == 200
    config = ExternalSystem.objects.get(kind=SystemKind.SPLYNX).config
    assert config["mappings"]["default_group_id"] == 1
    assert (config["customer_match"], config["time_zone"]) == ("none", "UTC")
