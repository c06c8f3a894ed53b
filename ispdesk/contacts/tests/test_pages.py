"""The contact pages: list with live search, create and edit forms, deletion."""

from __future__ import annotations

import pytest

from ispdesk.contacts.models import Contact
from ispdesk.system.models import AuditEvent

pytestmark = pytest.mark.usefixtures("english")


def test_the_list_shows_readable_phones_and_badges(operator_client, gomez, perez):
    response = operator_client.get("/contacts/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "+54 9 11 2233-4455" in page
    assert "DNI 12.345.678" in page
    assert '<span class="pill pill-muted contact-area">Soporte</span>' in page
    assert "Juan Pérez" in page
    assert 'id="contact-q"' in page


def test_anonymous_people_are_sent_to_log_in(client, db):
    response = client.get("/contacts/")
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_the_live_search_answers_only_the_results(operator_client, gomez, perez):
    response = operator_client.get("/contacts/", {"q": "2233"}, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="contact-results"')
    assert "Marta Gómez" in page
    assert "Juan Pérez" not in page
    assert "<html" not in page
    assert "HX-Request" in response["Vary"]


def test_the_list_is_paginated_in_a_fixed_number_of_queries(
    operator_client, soporte, django_assert_max_num_queries
):
    Contact.objects.bulk_create(
        Contact(name=f"Cliente {n:03d}", phone=f"+5491122334{n:03d}", preferred_area=soporte)
        for n in range(120)
    )
    with django_assert_max_num_queries(8):
        response = operator_client.get("/contacts/", {"page": 2})
    page = response.content.decode()
    assert "Cliente 050" in page and "Cliente 049" not in page
    assert "Page 2 of 3" in page


def test_the_import_link_is_only_for_supervisors_and_admins(operator_client, supervisor_client, db):
    assert "/contacts/import/" not in operator_client.get("/contacts/").content.decode()
    assert "/contacts/import/" in supervisor_client.get("/contacts/").content.decode()


def test_an_operator_creates_a_contact(operator_client, operator, soporte):
    response = operator_client.post(
        "/contacts/new/",
        {
            "name": "Marta Gómez",
            "phone": "11 2233-4455",
            "dni": "12.345.678",
            "preferred_area": soporte.pk,
            "tags": "fibra, empresa,",
            "notes": "",
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert (contact.phone, contact.dni, contact.tags) == (
        "+5491122334455",
        "12345678",
        ["fibra", "empresa"],
    )
    assert AuditEvent.objects.get(action="contact.created").actor == operator


def test_bad_values_are_shown_beside_their_fields(operator_client, gomez):
    response = operator_client.post(
        "/contacts/new/", {"name": "X", "phone": "1122334455", "dni": ""}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="id_phone_error"' in page and "already belongs to Marta Gómez" in page
    response = operator_client.post("/contacts/new/", {"name": "X", "phone": "hola", "dni": "12"})
    page = response.content.decode()
    assert 'id="id_phone_error"' in page and 'id="id_dni_error"' in page
    assert "a DNI has 7 or 8 digits" in page
    assert Contact.objects.count() == 1


def test_the_edit_form_shows_stored_values_readably_and_saves(operator_client, gomez, ventas):
    page = operator_client.get(f"/contacts/{gomez.pk}/").content.decode()
    assert 'value="+54 9 11 2233-4455"' in page
    assert 'value="12.345.678"' in page
    assert f"/contacts/{gomez.pk}/delete/" not in page  # operators cannot delete

    response = operator_client.post(
        f"/contacts/{gomez.pk}/",
        {
            "name": "Marta G.",
            "phone": "+54 9 11 2233-4455",
            "dni": "12.345.678",
            "preferred_area": ventas.pk,
            "splynx_customer_id": "77",
            "tags": "",
            "notes": "Prefiere WhatsApp",
        },
    )
    assert response.status_code == 302
    gomez.refresh_from_db()
    assert (gomez.name, gomez.preferred_area, gomez.splynx_customer_id, gomez.notes) == (
        "Marta G.",
        ventas,
        77,
        "Prefiere WhatsApp",
    )


def test_an_unknown_contact_page_is_a_404(operator_client, db):
    assert operator_client.get("/contacts/999/").status_code == 404


def test_a_supervisor_confirms_then_deletes(supervisor_client, gomez):
    page = supervisor_client.get(f"/contacts/{gomez.pk}/delete/").content.decode()
    assert "Delete Marta Gómez?" in page and "+54 9 11 2233-4455" in page
    assert Contact.objects.exists()
    response = supervisor_client.post(f"/contacts/{gomez.pk}/delete/")
    assert response.status_code == 302
    assert not Contact.objects.exists()


def test_an_operator_cannot_delete(operator_client, gomez):
    assert operator_client.get(f"/contacts/{gomez.pk}/delete/").status_code == 403
    assert operator_client.post(f"/contacts/{gomez.pk}/delete/").status_code == 403
    assert Contact.objects.exists()
