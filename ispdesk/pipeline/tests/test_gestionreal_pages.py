"""The Gestión Real settings page and the CSV import page (admins only)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape

from ispdesk.integrations.gestionreal.web_export import EXPORT_SELECTOR
from ispdesk.pipeline.gestionreal_settings import DEFAULT_WEB
from ispdesk.pipeline.gestionreal_views import CSV_SESSION_KEY
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.pipeline.tests.flow_support import with_10234_as
from ispdesk.testing.fakes.gestionreal import CUIT, FakeGestionReal, serving_fake_gestionreal
from ispdesk.tickets.models import Source, Status, Ticket

FIXTURE = Path(__file__).parents[2] / "integrations/gestionreal/tests/fixtures/casos_export.csv"
PAGE = "/integrations/gestionreal/"
CSV_PAGE = "/integrations/csv/"


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def fake() -> Iterator[FakeGestionReal]:
    with serving_fake_gestionreal() as served:
        yield served


def form(**values: Any) -> dict[str, Any]:
    base = {
        "mode": "api",
        "base_url": "https://api.gestionreal.com.ar/",
        "cuit": "",
        "secret": "",
        "login_url": "",
        "username": "",
        "password": "",
        "watched_folder": "",
        "keywords": "",
        "groups": "",
        "states": "",
        "exclude_states": "",
        "closed_states": "Cerrado\nResuelto",
        "reopen_window_hours": "48",
        "close_sync_batch": "50",
    }
    return {**base, **values}


def web_form(**values: Any) -> dict[str, Any]:
    """The form as the page posts it in web mode: the advanced section with its defaults."""
    web = {f"web_{key}": str(value) for key, value in DEFAULT_WEB.items()}
    return form(mode="web", web_section="1", **{**web, **values})


def stored() -> ExternalSystem:
    return ExternalSystem.objects.get(kind=SystemKind.GESTIONREAL)


def upload(client: Client, data: bytes, name: str = "casos.csv") -> Any:
    return client.post(CSV_PAGE, {"file": SimpleUploadedFile(name, data, "text/csv")})


@pytest.mark.parametrize("who", ["supervisor_client", "operator_client"])
def test_only_admins_see_the_pages(request: pytest.FixtureRequest, who: str) -> None:
    client: Client = request.getfixturevalue(who)
    for url in (PAGE, CSV_PAGE):
        assert client.get(url).status_code == 403
    assert client.post(f"{PAGE}test/").status_code == 403
    assert Client().get(PAGE).status_code == 302  # to the login page


def test_an_admin_saves_the_settings_and_secrets_are_never_rendered(admin_client: Client) -> None:
    response = admin_client.post(
        PAGE,
        form(
            enabled="on",
            cuit="30-71234567-1",
            secret="clave-api",
            keywords="señal\ncorte\n\n",
            exclude_states="Cerrado",
        ),
    )
    assert response.status_code == 302
    system = stored()
    assert system.enabled
    assert system.config["cuit"] == CUIT
    assert system.config["filters"]["keywords"] == ["señal", "corte"]
    assert system.config["filters"]["exclude_states"] == ["Cerrado"]
    assert system.secrets["secret"] == "clave-api"

    page = admin_client.get(PAGE).content.decode()
    assert "clave-api" not in page
    assert "A secret is stored." in page
    assert "señal\ncorte" in page  # the filters, one per line

    # Saving again with the secret field blank keeps it.
    admin_client.post(PAGE, form(enabled="on", cuit=CUIT))
    assert stored().secrets["secret"] == "clave-api"


def test_a_refused_change_is_shown_beside_its_field(admin_client: Client) -> None:
    admin_client.post(PAGE, form(cuit=CUIT, secret="clave-api"))
    response = admin_client.post(PAGE, form(cuit=CUIT, base_url="https://otro.example.com/"))
    assert response.status_code == 422
    assert "required again with a new address" in response.content.decode()
    assert stored().config["base_url"] == "https://api.gestionreal.com.ar/"


def test_the_test_button_answers_a_fragment_with_sample_cases(
    admin_client: Client, fake: FakeGestionReal
) -> None:
    fake.add_caso(asunto="Corte de fibra")
    admin_client.post(PAGE, form(cuit=CUIT, secret=fake.secret, base_url=fake.url + "/"))

    response = admin_client.post(f"{PAGE}test/", headers={"HX-Request": "true"})

    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-test-ok="true"' in body
    assert "Corte de fibra" in body
    assert "<html" not in body
    assert fake.secret not in body
    page = admin_client.get(PAGE).content.decode()
    assert "Last test" in page


def test_closing_and_reopening_shows_the_defaults_and_saves(admin_client: Client) -> None:
    page = admin_client.get(PAGE).content.decode()
    assert "Closing and reopening" in page
    assert "Cerrado\nResuelto</textarea>" in page
    assert 'name="reopen_window_hours" value="48"' in page
    assert 'name="close_sync_batch" value="50"' in page

    response = admin_client.post(
        PAGE,
        form(
            closed_states="Finalizado, Baja\nfinalizado\n\n",
            reopen_window_hours="0",
            close_sync_batch="120",
        ),
    )

    assert response.status_code == 302
    config = stored().config
    assert config["closed_states"] == ["Finalizado", "Baja"]
    assert (config["reopen_window_hours"], config["close_sync_batch"]) == (0, 120)
    page = admin_client.get(PAGE).content.decode()
    assert "Finalizado\nBaja</textarea>" in page
    assert 'name="reopen_window_hours" value="0"' in page


def test_bad_close_sync_values_are_shown_beside_their_fields(admin_client: Client) -> None:
    response = admin_client.post(
        PAGE, form(closed_states=" ,\n", reopen_window_hours="721", close_sync_batch="x")
    )

    assert response.status_code == 422
    body = response.content.decode()
    assert "Ensure this value is less than or equal to 720." in body
    assert 'id="id_close_sync_batch_error">Enter a whole number.<' in body
    assert (
        not ExternalSystem.objects.filter(kind=SystemKind.GESTIONREAL).exclude(config={}).exists()
    )

    # The form's own checks passed: the settings' refusal lands beside the field too.
    response = admin_client.post(PAGE, form(closed_states=" ,\n"))
    assert response.status_code == 422
    assert 'id="id_closed_states_error">Enter at least one state.<' in response.content.decode()


def test_the_web_export_page_section_shows_in_web_mode_with_its_defaults(
    admin_client: Client,
) -> None:
    assert "Advanced: web export page" not in admin_client.get(PAGE).content.decode()
    ExternalSystem.objects.filter(kind=SystemKind.GESTIONREAL).update(config={"mode": "web"})

    page = admin_client.get(PAGE).content.decode()

    assert "Advanced: web export page" in page
    assert 'name="web_section" value="1"' in page
    assert 'name="web_timeout_seconds" value="60"' in page
    assert escape(EXPORT_SELECTOR) in page


def test_an_admin_changes_the_web_export_page(admin_client: Client) -> None:
    response = admin_client.post(
        PAGE,
        web_form(
            web_cases_url="https://isp.gestionreal.com.ar/index.php?menuitem=12",
            web_export_selector="#exportar",
            web_submit_selector="",
            web_timeout_seconds="120",
        ),
    )

    assert response.status_code == 302
    assert stored().config["web"] == {
        "cases_url": "https://isp.gestionreal.com.ar/index.php?menuitem=12",
        "export_selector": "#exportar",
        "submit_selector": "",
        "timeout_seconds": 120,
    }
    page = admin_client.get(PAGE).content.decode()
    assert 'name="web_export_selector" value="#exportar"' in page

    # Posted without the section (the page was not in web mode): the web settings stay.
    admin_client.post(PAGE, form(mode="web", username="soporte"))
    assert stored().config["web"]["export_selector"] == "#exportar"
    assert stored().config["username"] == "soporte"


def test_bad_web_export_page_values_are_shown_beside_their_fields(admin_client: Client) -> None:
    response = admin_client.post(
        PAGE,
        web_form(
            web_cases_url="ftp://isp.example.com/",
            web_username_selector="  ",
            web_max_megabytes="500",
        ),
    )

    assert response.status_code == 422
    body = response.content.decode()
    assert "Ensure this value is less than or equal to 100." in body
    assert "Advanced: web export page" in body  # still there, with what was typed

    response = admin_client.post(
        PAGE, web_form(web_cases_url="ftp://isp.example.com/", web_username_selector="  ")
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert 'id="id_web_cases_url_error">Enter an http:// or https:// URL.<' in body
    assert 'id="id_web_username_selector_error">Enter a CSS selector.<' in body
    assert 'value="ftp://isp.example.com/"' in body
    assert (
        not ExternalSystem.objects.filter(kind=SystemKind.GESTIONREAL).exclude(config={}).exists()
    )


def test_the_csv_preview_then_import_creates_tickets(admin_client: Client) -> None:
    response = upload(admin_client, FIXTURE.read_bytes())
    body = response.content.decode()
    assert response.status_code == 200
    # 10237 is "Cerrado", a closed state: filtered out.
    assert 'data-count="create">4<' in body
    assert 'data-count="skipped">1<' in body
    assert "state Cerrado is closed" in body
    assert 'data-count="invalid">3<' in body
    assert "Sin señal desde ayer" in body
    assert "5 columns instead of 20" in body
    assert not Ticket.objects.exists()
    token = admin_client.session[CSV_SESSION_KEY]["token"]

    done = admin_client.post(CSV_PAGE, {"token": token})
    assert done.status_code == 200
    assert "Import done. Tickets created: 4" in done.content.decode()
    assert Ticket.objects.filter(source=Source.CSV).count() == 4
    assert CSV_SESSION_KEY not in admin_client.session

    # The same token again: the preview is gone, nothing is imported twice.
    again = admin_client.post(CSV_PAGE, {"token": token})
    assert again.status_code == 302
    assert Ticket.objects.count() == 4
    second = upload(admin_client, FIXTURE.read_bytes()).content.decode()
    assert 'data-count="exists">4<' in second
    # Nothing to create, but the cases already here follow their state: it can be applied.
    assert re.search(r'<button type="submit" class="btn btn-primary">Import<', second)


def test_an_import_that_only_closes_tickets_can_be_applied_and_says_so(
    admin_client: Client,
) -> None:
    upload(admin_client, FIXTURE.read_bytes())
    admin_client.post(CSV_PAGE, {"token": admin_client.session[CSV_SESSION_KEY]["token"]})

    upload(admin_client, with_10234_as("Cerrado"))
    done = admin_client.post(CSV_PAGE, {"token": admin_client.session[CSV_SESSION_KEY]["token"]})

    body = done.content.decode()
    assert 'data-count="closed">1<' in body
    assert "ticket closed: its case is closed" in body
    assert Ticket.objects.get(external_id="10234").status == Status.CLOSED


def test_a_file_that_is_not_the_export_is_refused_on_the_form(admin_client: Client) -> None:
    response = upload(admin_client, b"nombre,telefono\nAna,1\n")
    assert response.status_code == 422
    assert "not a header separated by semicolons" in response.content.decode()
    assert CSV_SESSION_KEY not in admin_client.session


def test_a_file_over_5_mb_is_refused(admin_client: Client) -> None:
    response = upload(admin_client, b"x" * (5 * 2**20 + 1))
    assert response.status_code == 422
    assert "larger than 5 MB" in response.content.decode()


def test_cancel_forgets_the_upload(admin_client: Client) -> None:
    upload(admin_client, FIXTURE.read_bytes())
    assert admin_client.post(f"{CSV_PAGE}cancel/").status_code == 302
    assert CSV_SESSION_KEY not in admin_client.session
