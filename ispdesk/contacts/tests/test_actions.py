"""Contact actions through the database: create, edit, delete, and importing a file."""

from __future__ import annotations

import pytest
from django.utils import timezone

from ispdesk.contacts.actions import (
    ContactError,
    do_create_contact,
    do_delete_contact,
    do_import_contacts,
    do_update_contact,
    plan_import,
)
from ispdesk.contacts.importing import parse_import
from ispdesk.contacts.models import Contact
from ispdesk.contacts.tests.conftest import csv_bytes
from ispdesk.conversations.models import Conversation
from ispdesk.messaging.models import GatewayConnection
from ispdesk.operators.models import Area
from ispdesk.system.models import AuditEvent

pytestmark = pytest.mark.usefixtures("english")


def test_it_creates_a_contact_with_normalised_values_and_an_audit_event(admin, soporte):
    contact = do_create_contact(
        admin,
        {
            "name": "  Marta   Gómez ",
            "phone": "011 15 2233-4455",
            "dni": "12.345.678",
            "preferred_area": soporte,
            "tags": [" fibra", "Fibra", "", "empresa "],
        },
    )
    contact.refresh_from_db()
    assert (contact.name, contact.phone, contact.dni) == (
        "Marta Gómez",
        "+5491122334455",
        "12345678",
    )
    assert contact.tags == ["fibra", "empresa"]
    event = AuditEvent.objects.get(action="contact.created")
    assert (event.actor, event.object_id) == (admin, str(contact.pk))
    assert event.after["phone"] == "+5491122334455"


def test_it_names_every_bad_field_at_once(admin):
    with pytest.raises(ContactError) as caught:
        do_create_contact(admin, {"name": " ", "phone": "hola", "dni": "123", "tags": ["x" * 41]})
    assert caught.value.code == "validation_error"
    assert set(caught.value.fields) == {"name", "phone", "dni", "tags"}
    assert not Contact.objects.exists()


def test_it_refuses_a_phone_that_belongs_to_someone_else_naming_them(admin, gomez):
    with pytest.raises(ContactError) as caught:
        do_create_contact(admin, {"name": "Otra", "phone": "+54 9 11 2233-4455"})
    assert caught.value.code == "duplicate_phone"
    assert "Marta Gómez" in caught.value.message
    assert f"#{gomez.pk}" in caught.value.message
    assert Contact.objects.count() == 1


def test_an_update_records_before_and_after(admin, gomez, ventas):
    do_update_contact(admin, gomez, {"name": "Marta G.", "preferred_area": ventas, "dni": ""})
    gomez.refresh_from_db()
    assert (gomez.name, gomez.preferred_area, gomez.dni) == ("Marta G.", ventas, "")
    event = AuditEvent.objects.get(action="contact.updated")
    assert event.before["name"] == "Marta Gómez"
    assert event.after["preferred_area"] == ventas.pk


def test_an_update_that_changes_nothing_saves_nothing(admin, gomez):
    stamp = gomez.updated_at
    do_update_contact(admin, gomez, {"name": "Marta Gómez", "phone": "11 2233-4455"})
    gomez.refresh_from_db()
    assert gomez.updated_at == stamp
    assert not AuditEvent.objects.exists()


def test_an_update_to_another_contacts_phone_is_refused(admin, gomez, perez):
    with pytest.raises(ContactError) as caught:
        do_update_contact(admin, perez, {"phone": gomez.phone})
    assert caught.value.code == "duplicate_phone"
    perez.refresh_from_db()
    assert perez.phone == "+5493515550003"


def test_it_deletes_a_contact_without_history(admin, gomez):
    do_delete_contact(admin, gomez)
    assert not Contact.objects.exists()
    event = AuditEvent.objects.get(action="contact.deleted")
    assert event.before["name"] == "Marta Gómez"


def test_it_keeps_a_contact_with_conversations(admin, gomez):
    connection = GatewayConnection.objects.create(kind="simulator", name="Pruebas", config={})
    now = timezone.now()
    Conversation.objects.create(
        contact=gomez, connection=connection, chat_id="x", last_message_at=now, created_at=now
    )
    with pytest.raises(ContactError) as caught:
        do_delete_contact(admin, gomez)
    assert caught.value.code == "contact_has_conversations"
    assert Contact.objects.filter(pk=gomez.pk).exists()


# Import


def rows_of(*lines: str) -> list:
    return parse_import(
        csv_bytes("name,phone,dni,area", *lines), Area.objects.values_list("name", flat=True)
    )


def test_the_plan_says_what_would_happen_per_row_and_changes_nothing(gomez, soporte, ventas):
    rows = rows_of(
        "Marta Gómez,11 2233-4455,,",  # the same as stored: empty cells change nothing
        "Marta Gómez,11 2233-4455,,",  # a duplicate of row 2
        "Juan Pérez,351 555-0003,5.123.456,ventas",
        "Nadie,123,,",
    )
    plan = plan_import(rows)
    assert [(p.row.row, p.outcome) for p in plan.rows] == [
        (2, "unchanged"),
        (3, "invalid"),
        (4, "create"),
        (5, "invalid"),
    ]
    assert plan.rows[1].reason == "same phone as row 2"
    assert plan.counts == {"create": 1, "update": 0, "unchanged": 1, "invalid": 2}
    assert Contact.objects.count() == 1


def test_the_plan_names_the_fields_an_update_changes(gomez, ventas):
    (planned,) = plan_import(rows_of("Marta Gomez,1122334455,30111222,Ventas")).rows
    assert planned.outcome == "update"
    assert planned.contact_id == gomez.pk
    assert planned.current_name == "Marta Gómez"
    assert planned.changes == ("name", "dni", "preferred_area")


def test_an_import_creates_and_updates_matching_by_normalised_phone(admin, gomez, ventas):
    plan = plan_import(
        rows_of(
            "Marta Gómez,+54 9 11 2233-4455,30.111.222,Ventas",
            "Juan Pérez,0351 15 555-0003,,",
            "Sin teléfono,,,",
        )
    )
    result = do_import_contacts(admin, plan)

    assert result.applied
    assert result.counts == {"create": 1, "update": 1, "unchanged": 0, "invalid": 1}
    gomez.refresh_from_db()
    assert (gomez.dni, gomez.preferred_area) == ("30111222", ventas)
    juan = Contact.objects.get(phone="+5493515550003")
    assert (juan.name, juan.dni, juan.preferred_area) == ("Juan Pérez", "", None)
    actions = sorted(AuditEvent.objects.values_list("action", flat=True))
    assert actions == ["contact.created", "contact.imported", "contact.updated"]
    summary = AuditEvent.objects.get(action="contact.imported")
    assert summary.after == result.counts


def test_importing_the_same_file_twice_changes_nothing_the_second_time(admin, soporte):
    lines = ("Ana,1122334401,12345678,Soporte", "Bruno,1122334402,,", "Carla,1122334403,,")
    first = do_import_contacts(admin, plan_import(rows_of(*lines)))
    assert first.counts["create"] == 3
    stamps = dict(Contact.objects.values_list("pk", "updated_at"))
    audits = AuditEvent.objects.count()

    second = do_import_contacts(admin, plan_import(rows_of(*lines)))

    assert second.counts == {"create": 0, "update": 0, "unchanged": 3, "invalid": 0}
    assert dict(Contact.objects.values_list("pk", "updated_at")) == stamps
    assert Contact.objects.count() == 3
    assert AuditEvent.objects.count() == audits


def test_applying_decides_on_the_data_as_stored_then_not_as_planned(admin):
    plan = plan_import(rows_of("Ana,1122334401,,"))
    assert plan.rows[0].outcome == "create"
    # Someone adds the same phone between the preview and the confirmation.
    Contact.objects.create(name="Ana Previa", phone="+5491122334401")

    result = do_import_contacts(admin, plan)

    assert [p.outcome for p in result.rows] == ["update"]
    assert Contact.objects.get().name == "Ana"


def test_a_row_whose_area_was_deleted_since_the_plan_is_reported_not_half_saved(admin, soporte):
    plan = plan_import(rows_of("Ana,1122334401,,Soporte", "Bruno,1122334402,,"))
    soporte.delete()
    result = do_import_contacts(admin, plan)
    assert [p.outcome for p in result.rows] == ["invalid", "create"]
    assert "unknown area" in result.rows[0].reason
    assert list(Contact.objects.values_list("name", flat=True)) == ["Bruno"]


def test_an_import_that_changes_nothing_writes_no_summary(admin, gomez):
    do_import_contacts(admin, plan_import(rows_of("Marta Gómez,1122334455,,")))
    assert not AuditEvent.objects.exists()
