"""The contact behind an incoming WhatsApp message: found by phone, then by @lid alias;
created with the profile name; aliases recorded as they become known."""

from __future__ import annotations

import pytest
from django.db import transaction

from ispdesk.contacts.actions import UNKNOWN_NAME, find_or_create_contact_for_whatsapp
from ispdesk.contacts.models import Contact
from ispdesk.system.models import AuditEvent

JID = "5491122334455@s.whatsapp.net"


def test_it_creates_a_contact_named_from_the_profile(db):
    contact, created = find_or_create_contact_for_whatsapp("5491122334455", None, JID, " Marta ")
    assert created
    contact.refresh_from_db()
    assert (contact.name, contact.phone, contact.wa_jid, contact.lid) == (
        "Marta",
        "+5491122334455",
        JID,
        None,
    )
    event = AuditEvent.objects.get(action="contact.created")
    assert (event.actor, event.actor_label) == (None, "system")


@pytest.mark.parametrize("language", ["en", "es-ar"])
def test_without_a_profile_name_the_stored_name_is_desconocido_in_any_language(db, language):
    from django.utils import translation

    with translation.override(language):
        contact, _ = find_or_create_contact_for_whatsapp("+5491122334455", None, JID, "  ")
    assert contact.name == UNKNOWN_NAME == "Desconocido"


def test_it_finds_a_contact_by_its_phone_whatever_the_shape(gomez):
    for phone in ("+5491122334455", "5491122334455", "5491122334455@s.whatsapp.net"):
        contact, created = find_or_create_contact_for_whatsapp(phone, None, JID, "Otra")
        assert (contact.pk, created, contact.name) == (gomez.pk, False, "Marta Gómez")
    assert Contact.objects.count() == 1


def test_it_records_the_aliases_of_a_known_phone(gomez):
    _contact, created = find_or_create_contact_for_whatsapp(
        "+5491122334455", "98765@lid", JID, "Marta"
    )
    assert not created
    gomez.refresh_from_db()
    assert (gomez.lid, gomez.wa_jid, gomez.name) == ("98765@lid", JID, "Marta Gómez")
    assert AuditEvent.objects.filter(action="contact.aliases_updated").count() == 1
    # Nothing new the second time: no write, no event.
    find_or_create_contact_for_whatsapp("+5491122334455", "98765@lid", JID, "Marta")
    assert AuditEvent.objects.filter(action="contact.aliases_updated").count() == 1


def test_a_lid_only_contact_is_found_by_lid_and_gets_its_phone_later(db):
    first, created = find_or_create_contact_for_whatsapp(None, "98765@lid", "98765@lid", "")
    assert created
    assert (first.phone, first.name) == (None, UNKNOWN_NAME)

    again, created = find_or_create_contact_for_whatsapp("5491122334455", "98765@lid", JID, "Marta")

    assert (again.pk, created) == (first.pk, False)
    again.refresh_from_db()
    assert (again.phone, again.wa_jid, again.name) == ("+5491122334455", JID, "Marta")


def test_a_lid_held_by_another_contact_is_not_moved(gomez):
    other = Contact.objects.create(name="Otro", lid="98765@lid")
    contact, _ = find_or_create_contact_for_whatsapp("+5491122334455", "98765@lid", JID, "")
    assert contact.pk == gomez.pk
    gomez.refresh_from_db()
    other.refresh_from_db()
    assert (gomez.lid, other.lid) == (None, "98765@lid")


def test_a_number_our_rules_cannot_place_is_still_kept(db):
    contact, created = find_or_create_contact_for_whatsapp("123456789012", None, "x", "Lejano")
    assert created
    assert contact.phone == "+123456789012"


def test_it_needs_a_phone_or_a_lid(db):
    with pytest.raises(ValueError, match="phone number or an @lid"):
        find_or_create_contact_for_whatsapp(None, " ", JID, "Marta")


def test_it_works_inside_an_outer_transaction_that_then_rolls_back(db):
    with pytest.raises(RuntimeError), transaction.atomic():
        _contact, created = find_or_create_contact_for_whatsapp("5491122334455", None, JID, "M")
        assert created
        raise RuntimeError("the caller failed later")
    assert not Contact.objects.exists()
