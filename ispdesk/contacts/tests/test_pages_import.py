"""The import page: upload, preview per row, confirm once."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ispdesk.contacts.importing import MAX_IMPORT_BYTES
from ispdesk.contacts.models import Contact
from ispdesk.contacts.tests.conftest import csv_bytes
from ispdesk.contacts.views import IMPORT_SESSION_KEY

pytestmark = pytest.mark.usefixtures("english")

FILE = csv_bytes(
    "nombre;teléfono;dni;área",
    "Marta Gómez;11 2233-4455;30.111.222;Ventas",
    "Juan Pérez;351 555-0003;;",
    "Nadie;hola;;",
    encoding="latin-1",
)


def preview(client, data: bytes = FILE):  # type: ignore[no-untyped-def]
    return client.post(
        "/contacts/import/", {"file": SimpleUploadedFile("contactos.csv", data, "text/csv")}
    )


def test_the_preview_shows_each_row_and_changes_nothing(supervisor_client, gomez, ventas):
    response = preview(supervisor_client)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-row="2" data-outcome="update"' in page
    assert "Marta Gómez: changes DNI, preferred area" in page
    assert 'data-row="3" data-outcome="create"' in page
    assert "+54 9 351 555-0003" in page
    assert 'data-row="4" data-outcome="invalid"' in page
    assert "invalid phone" in page
    assert 'data-count="create">1<' in page
    assert Contact.objects.count() == 1
    assert gomez.dni == Contact.objects.get().dni


def test_confirming_applies_the_previewed_file_once(supervisor_client, gomez, ventas):
    preview(supervisor_client)
    token = supervisor_client.session[IMPORT_SESSION_KEY]["token"]

    response = supervisor_client.post("/contacts/import/", {"token": token})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Import done. Created: 1; updated: 1; unchanged: 0; invalid: 1." in page
    gomez.refresh_from_db()
    assert (gomez.dni, gomez.preferred_area) == ("30111222", ventas)
    assert Contact.objects.count() == 2
    assert IMPORT_SESSION_KEY not in supervisor_client.session

    again = supervisor_client.post("/contacts/import/", {"token": token}, follow=True)
    assert "no longer available" in again.content.decode()
    assert Contact.objects.count() == 2


def test_a_wrong_token_applies_nothing(supervisor_client, db):
    preview(supervisor_client)
    response = supervisor_client.post("/contacts/import/", {"token": "forged"}, follow=True)
    assert "no longer available" in response.content.decode()
    assert not Contact.objects.exists()


def test_a_file_it_cannot_read_is_shown_beside_the_upload(supervisor_client, db):
    response = preview(supervisor_client, b"foo,bar\r\n1,2\r\n")
    assert response.status_code == 422
    assert "missing: name, phone" in response.content.decode()
    assert IMPORT_SESSION_KEY not in supervisor_client.session


def test_a_file_over_5_mb_is_refused(supervisor_client, db):
    response = preview(supervisor_client, b"x" * (MAX_IMPORT_BYTES + 1))
    assert response.status_code == 422
    assert "larger than 5 MB" in response.content.decode()


def test_cancel_forgets_the_preview(supervisor_client, db):
    preview(supervisor_client)
    supervisor_client.post("/contacts/import/cancel/")
    assert IMPORT_SESSION_KEY not in supervisor_client.session


def test_operators_cannot_import(operator_client, db):
    assert operator_client.get("/contacts/import/").status_code == 403
    assert preview(operator_client).status_code == 403
    assert not Contact.objects.exists()
