"""Importing contacts over the API: multipart or raw CSV/JSON bodies, dry runs, limits."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ispdesk.contacts.importing import MAX_IMPORT_BYTES
from ispdesk.contacts.models import Contact
from ispdesk.contacts.tests.conftest import csv_bytes

pytestmark = pytest.mark.usefixtures("english")

URL = "/api/contacts/import"
FILE = csv_bytes(
    "nombre;teléfono;dni;área",
    "Marta Gómez;11 2233-4455;12.345.678;soporte",
    "Juan Pérez;351 555-0003;;",
    "Sin número;;;",
    "Marta otra vez;+54 9 11 2233-4455;;",
    encoding="latin-1",
)


def upload(client, data: bytes, name: str = "contactos.csv", query: str = ""):  # type: ignore[no-untyped-def]
    return client.post(URL + query, {"file": SimpleUploadedFile(name, data, "text/csv")})


def test_a_supervisor_imports_a_multipart_file(supervisor_client, soporte):
    response = upload(supervisor_client, FILE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["dry_run"], body["created"], body["updated"], body["unchanged"]) == (
        False,
        2,
        0,
        0,
    )
    assert body["invalid"] == 2
    assert body["errors"] == [
        {"row": 4, "reason": "the phone is missing"},
        {"row": 5, "reason": "same phone as row 2"},
    ]
    marta = Contact.objects.get(phone="+5491122334455")
    assert (marta.name, marta.dni, marta.preferred_area) == ("Marta Gómez", "12345678", soporte)


def test_a_dry_run_says_what_would_happen_and_changes_nothing(admin_client, soporte, gomez):
    response = upload(admin_client, FILE, query="?dry_run=true")
    body = response.json()
    assert body["dry_run"] is True
    assert (body["created"], body["updated"], body["unchanged"], body["invalid"]) == (1, 0, 1, 2)
    assert [(row["row"], row["outcome"]) for row in body["rows"]] == [
        (2, "unchanged"),
        (3, "create"),
        (4, "invalid"),
        (5, "invalid"),
    ]
    assert Contact.objects.count() == 1


def test_importing_the_same_file_again_changes_nothing(admin_client, soporte):
    upload(admin_client, FILE)
    stamps = dict(Contact.objects.values_list("pk", "updated_at"))
    body = upload(admin_client, FILE).json()
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 2)
    assert dict(Contact.objects.values_list("pk", "updated_at")) == stamps


def test_it_takes_a_raw_csv_body(admin_client, db):
    response = admin_client.post(
        URL, csv_bytes("name,phone", "Ana,1122334401"), content_type="text/csv"
    )
    assert (response.status_code, response.json()["created"]) == (200, 1)


def test_it_takes_a_raw_json_body(admin_client, soporte):
    body = [{"name": "Ana", "phone": "1122334401", "area": "Soporte"}, {"name": "Bruno"}]
    response = admin_client.post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["errors"]) == (
        1,
        [{"row": 2, "reason": "the phone is missing"}],
    )
    assert Contact.objects.get().preferred_area == soporte


def test_an_operator_may_not_import(operator_client, db):
    response = upload(operator_client, FILE)
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert not Contact.objects.exists()


def test_an_oversized_upload_is_a_413(admin_client, db):
    data = csv_bytes("name,phone") + b"a" * MAX_IMPORT_BYTES
    response = upload(admin_client, data)
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")


def test_an_oversized_raw_body_is_a_413_even_above_djangos_upload_limit(admin_client, db):
    data = csv_bytes("name,phone") + b"a" * MAX_IMPORT_BYTES
    response = admin_client.post(URL, data, content_type="text/csv")
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")


def test_a_raw_body_over_djangos_memory_limit_but_under_5_mb_is_read(admin_client, db):
    line = "Cliente,+5491122334455\r\n"
    data = csv_bytes("name,phone") + line.encode() * (3 * 2**20 // len(line))
    response = admin_client.post(URL, data, content_type="text/csv")
    assert response.status_code == 200
    assert response.json()["created"] == 1  # every later row repeats the phone


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"foo,bar\r\n1,2\r\n", "missing: name, phone"),
        (b'[{"name": ', "not valid JSON"),
    ],
)
def test_a_file_it_cannot_read_is_a_422_saying_why(admin_client, db, data, fragment):
    response = upload(admin_client, data)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_file"
    assert fragment in response.json()["fields"]["file"]


def test_a_multipart_post_without_the_file_field_is_a_422(admin_client, db):
    response = admin_client.post(URL, {"other": SimpleUploadedFile("x.csv", b"name,phone")})
    assert response.status_code == 422
    assert "file" in response.json()["fields"]


def test_another_content_type_is_a_415(admin_client, db):
    response = admin_client.post(URL, b"<xml/>", content_type="application/xml")
    assert (response.status_code, response.json()["code"]) == (415, "unsupported_media_type")
