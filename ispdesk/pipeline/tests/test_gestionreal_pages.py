"""The Gestión Real settings page and the CSV import page (admins only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from ispdesk.pipeline.gestionreal_views import CSV_SESSION_KEY
from ispdesk.pipeline.models import ExternalSystem, SystemKind
from ispdesk.testing.fakes.gestionreal import CUIT, FakeGestionReal, serving_fake_gestionreal
from ispdesk.tickets.models import Source, Ticket

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
    }
    return {**base, **values}


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


def test_the_csv_preview_then_import_creates_tickets(admin_client: Client) -> None:
    response = upload(admin_client, FIXTURE.read_bytes())
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-count="create">5<' in body
    assert 'data-count="invalid">3<' in body
    assert "Sin señal desde ayer" in body
    assert "5 columns instead of 20" in body
    assert not Ticket.objects.exists()
    token = admin_client.session[CSV_SESSION_KEY]["token"]

    done = admin_client.post(CSV_PAGE, {"token": token})
    assert done.status_code == 200
    assert "Import done. Tickets created: 5" in done.content.decode()
    assert Ticket.objects.filter(source=Source.CSV).count() == 5
    assert CSV_SESSION_KEY not in admin_client.session

    # The same token again: the preview is gone, nothing is imported twice.
    again = admin_client.post(CSV_PAGE, {"token": token})
    assert again.status_code == 302
    assert Ticket.objects.count() == 5
    second = upload(admin_client, FIXTURE.read_bytes()).content.decode()
    assert 'data-count="exists">5<' in second


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
