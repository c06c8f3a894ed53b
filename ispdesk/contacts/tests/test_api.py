"""The contacts API: list and search, one contact, create, edit, delete, permissions."""

from __future__ import annotations

import pytest
from django.test import Client

from ispdesk.contacts.models import Contact
from ispdesk.contacts.tests.conftest import patch_json, post_json
from ispdesk.system.models import AuditEvent

pytestmark = pytest.mark.usefixtures("english")


def test_it_answers_one_contact_with_its_readable_phone(operator_client, gomez, soporte):
    response = operator_client.get(f"/api/contacts/{gomez.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["phone"] == "+5491122334455"
    assert body["phone_display"] == "+54 9 11 2233-4455"
    assert body["preferred_area"] == {"id": soporte.pk, "name": "Soporte"}
    assert (body["dni"], body["tags"], body["lid"]) == ("12345678", [], None)


def test_an_unknown_contact_is_a_404(operator_client, db):
    response = operator_client.get("/api/contacts/999")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_anonymous_people_get_401(client, gomez):
    assert client.get("/api/contacts").status_code == 401
    assert client.get(f"/api/contacts/{gomez.pk}").status_code == 401


def test_it_lists_contacts_by_name_with_the_total(operator_client, gomez, perez):
    body = operator_client.get("/api/contacts").json()
    assert body["count"] == 2
    assert [row["name"] for row in body["results"]] == ["Juan Pérez", "Marta Gómez"]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("gómez", ["Marta Gómez"]),
        ("MARTA", ["Marta Gómez"]),
        ("2233", ["Marta Gómez"]),
        ("11 2233-44", ["Marta Gómez"]),
        ("011 15 2233-4455", ["Marta Gómez"]),
        ("555", ["Juan Pérez"]),
        ("12.345", ["Marta Gómez"]),
        ("5123", ["Juan Pérez"]),
        ("345678", []),  # the middle of a DNI is not its start
        ("54", []),  # two digits are too few for a phone search
        ("nadie", []),
    ],
)
def test_search_matches_name_phone_digits_or_dni_start(
    operator_client, gomez, perez, search, expected
):
    body = operator_client.get("/api/contacts", {"search": search}).json()
    assert sorted(row["name"] for row in body["results"]) == sorted(expected)
    assert body["count"] == len(expected)


def test_it_filters_by_area(operator_client, gomez, perez, soporte):
    body = operator_client.get("/api/contacts", {"area": soporte.pk}).json()
    assert [row["name"] for row in body["results"]] == ["Marta Gómez"]


def test_it_pages_with_limit_and_offset(operator_client, db):
    Contact.objects.bulk_create(
        Contact(name=f"Cliente {n:03d}", phone=f"+54911223344{n:02d}") for n in range(60)
    )
    first = operator_client.get("/api/contacts").json()
    assert (first["count"], len(first["results"])) == (60, 50)
    page = operator_client.get("/api/contacts", {"limit": 5, "offset": 55}).json()
    assert [row["name"] for row in page["results"]] == [f"Cliente {n:03d}" for n in range(55, 60)]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 201}, "limit"), ({"limit": 0}, "limit"), ({"offset": -1}, "offset")],
)
def test_it_refuses_pages_out_of_bounds(operator_client, db, params, field):
    response = operator_client.get("/api/contacts", params)
    assert response.status_code == 422
    assert field in response.json()["fields"]


def test_the_list_takes_a_fixed_number_of_queries(
    operator_client, soporte, django_assert_max_num_queries
):
    Contact.objects.bulk_create(
        Contact(name=f"C{n}", phone=f"+54911223344{n:02d}", preferred_area=soporte)
        for n in range(40)
    )
    # Session and user, the count, the page (areas joined).
    with django_assert_max_num_queries(4):
        body = operator_client.get("/api/contacts", {"search": "C"}).json()
    assert len(body["results"]) == 40
    assert body["results"][0]["preferred_area"]["name"] == "Soporte"


# Create and edit


def test_an_operator_creates_a_contact(operator_client, operator, soporte):
    response = post_json(
        operator_client,
        "/api/contacts",
        {
            "name": "Marta Gómez",
            "phone": "011 15 2233-4455",
            "dni": "12.345.678",
            "preferred_area": soporte.pk,
            "splynx_customer_id": 314,
            "tags": ["fibra"],
        },
    )
    assert response.status_code == 201, response.content
    contact = Contact.objects.get()
    assert response.json()["id"] == contact.pk
    assert (contact.phone, contact.dni, contact.splynx_customer_id) == (
        "+5491122334455",
        "12345678",
        314,
    )
    assert AuditEvent.objects.get(action="contact.created").actor == operator


def test_a_duplicate_phone_is_a_409_naming_the_contact(operator_client, gomez):
    response = post_json(operator_client, "/api/contacts", {"name": "X", "phone": "1122334455"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "duplicate_phone"
    assert "Marta Gómez" in body["message"]
    assert "phone" in body["fields"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "X", "phone": "hola"}, {"phone"}),
        ({"name": "X", "dni": "12"}, {"dni"}),
        ({"name": "X", "phone": "12", "dni": "A"}, {"phone", "dni"}),
        ({"name": "X", "preferred_area": 999}, {"preferred_area"}),
        ({"name": ""}, {"name"}),
        ({"phone": "1122334455"}, {"name"}),
        ({"name": "X", "splynx_customer_id": 0}, {"splynx_customer_id"}),
        ({"name": "Mar\x00ta"}, {"name"}),
        ({"name": "X", "tags": "fibra"}, {"tags"}),
    ],
)
def test_bad_values_are_a_422_naming_the_fields(operator_client, db, body, fields):
    response = post_json(operator_client, "/api/contacts", body)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_error"
    assert set(response.json()["fields"]) == fields
    assert not Contact.objects.exists()


def test_a_patch_changes_only_what_is_sent(operator_client, gomez, ventas):
    response = patch_json(
        operator_client, f"/api/contacts/{gomez.pk}", {"notes": "Llama de tarde", "dni": None}
    )
    assert response.status_code == 200, response.content
    gomez.refresh_from_db()
    assert (gomez.notes, gomez.dni, gomez.name, gomez.phone) == (
        "Llama de tarde",
        "",
        "Marta Gómez",
        "+5491122334455",
    )
    assert gomez.preferred_area is not None


def test_a_patch_with_null_clears_phone_and_area(operator_client, gomez):
    response = patch_json(
        operator_client, f"/api/contacts/{gomez.pk}", {"phone": None, "preferred_area": None}
    )
    assert response.status_code == 200
    assert (response.json()["phone"], response.json()["preferred_area"]) == (None, None)


def test_a_patch_to_a_taken_phone_is_a_409(operator_client, gomez, perez):
    response = patch_json(operator_client, f"/api/contacts/{perez.pk}", {"phone": gomez.phone})
    assert (response.status_code, response.json()["code"]) == (409, "duplicate_phone")


def test_a_patch_of_an_unknown_contact_is_a_404(operator_client, db):
    response = patch_json(operator_client, "/api/contacts/999", {"name": "X"})
    assert response.status_code == 404


# Delete


def test_a_supervisor_deletes_a_contact(supervisor_client: Client, gomez):
    response = supervisor_client.delete(f"/api/contacts/{gomez.pk}")
    assert response.status_code == 204
    assert not Contact.objects.exists()
    assert AuditEvent.objects.filter(action="contact.deleted").count() == 1


def test_an_operator_may_not_delete(operator_client, gomez):
    response = operator_client.delete(f"/api/contacts/{gomez.pk}")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert Contact.objects.exists()


def test_deleting_an_unknown_contact_is_a_404(admin_client, db):
    assert admin_client.delete("/api/contacts/999").status_code == 404
