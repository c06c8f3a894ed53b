"""The ticket webhook's pure parts: mapping validation, reading one item, matching the area,
and the ticket body. No database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.pipeline.tests.ticket_hook_support import fixture
from ispdesk.pipeline.ticket_hook import (
    DEFAULT_MAPPING,
    ItemRejected,
    MappingError,
    clean_mapping,
    map_item,
    match_area,
    normalize_name,
    ticket_body,
)


@pytest.fixture(autouse=True)
def _english(settings):  # type: ignore[no-untyped-def]
    settings.LANGUAGE_CODE = "en"


def test_it_reads_the_earlier_systems_ticket_with_its_double_spaced_names_and_entities():
    inbound = map_item(fixture("one_ticket.json"), DEFAULT_MAPPING)

    assert inbound.external_id == "48213"
    assert inbound.customer_id == "10457"
    assert inbound.customer_phone == "+5491155550101"
    assert inbound.subject == "Sin conexión"
    assert inbound.area_name == "soporte tecnico"
    assert inbound.customer_name == "María Fernández"
    assert inbound.body == (
        "El cliente indica que no tiene internet desde la mañana.\nYa reinició el router."
    )
    assert inbound.notes == []


def test_it_turns_numbers_into_text_and_keeps_a_phone_it_cannot_read_as_sent():
    first, second = fixture("two_tickets.json")

    numeric = map_item(first, DEFAULT_MAPPING)
    unreadable = map_item(second, DEFAULT_MAPPING)

    assert (numeric.external_id, numeric.customer_id) == ("48214", "20981")
    assert numeric.customer_phone == "+5493515550202"
    assert numeric.body == "Solicita la baja por mudanza & pide retiro del equipo"
    assert numeric.customer_name == "José Gómez"
    assert unreadable.customer_phone == "sin dato"
    assert len(unreadable.notes) == 1
    assert "could not be read" in unreadable.notes[0]


def test_it_accepts_a_float_ticket_number_without_its_decimal_zero():
    inbound = map_item({"Numero de ticket": 48213.0, "Motivo de contacto": "X"}, DEFAULT_MAPPING)

    assert inbound.external_id == "48213"


def test_it_names_every_missing_required_field_by_the_senders_name():
    with pytest.raises(ItemRejected) as caught:
        map_item({"Numero de  cliente": "1"}, DEFAULT_MAPPING)

    assert caught.value.code == "validation_error"
    assert caught.value.fields == {"Numero de ticket": "required", "Motivo de contacto": "required"}
    assert "Numero de ticket, Motivo de contacto" in caught.value.message


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], True])
def test_it_refuses_a_value_that_is_not_text_or_a_number(value):
    with pytest.raises(ItemRejected) as caught:
        map_item({"Numero de ticket": value, "Motivo de contacto": "X"}, DEFAULT_MAPPING)

    assert caught.value.fields == {"Numero de ticket": "must be text or a number"}


def test_it_refuses_a_ticket_number_longer_than_the_ticket_can_store():
    with pytest.raises(ItemRejected) as caught:
        map_item({"Numero de ticket": "9" * 65, "Motivo de contacto": "X"}, DEFAULT_MAPPING)

    assert "Numero de ticket" in caught.value.fields


def test_it_refuses_an_item_that_is_not_an_object():
    with pytest.raises(ItemRejected) as caught:
        map_item(["48213"], DEFAULT_MAPPING)

    assert caught.value.code == "bad_request"


def test_it_treats_blank_and_null_required_values_as_missing():
    with pytest.raises(ItemRejected) as caught:
        map_item({"Numero de ticket": "  ", "Motivo de contacto": None}, DEFAULT_MAPPING)

    assert set(caught.value.fields) == {"Numero de ticket", "Motivo de contacto"}


def test_it_matches_their_names_ignoring_case_accents_and_spaces_when_not_exact():
    item = {"NÚMERO DE TICKET": "7", "motivo  de   contacto": "Lentitud"}

    inbound = map_item(item, DEFAULT_MAPPING)

    assert (inbound.external_id, inbound.subject) == ("7", "Lentitud")


def test_it_keeps_both_descriptions_when_two_fields_map_to_the_body():
    item = {"Numero de ticket": "7", "Motivo de contacto": "X", "Descripcion": "A", "Detalle": "B"}

    assert map_item(item, DEFAULT_MAPPING).body == "A\n\nB"


def test_it_uses_a_custom_mapping():
    mapping = {"ticket_id": "external_id", "asunto": "subject", "tel": "customer_phone"}

    inbound = map_item({"ticket_id": "X-1", "asunto": "Corte", "tel": "0351 15 555-0303"}, mapping)

    assert (inbound.external_id, inbound.subject) == ("X-1", "Corte")
    assert inbound.customer_phone == "+5493515550303"


def test_it_matches_an_area_by_name_ignoring_case_and_accents():
    areas = [(1, "Soporte Técnico"), (2, "Administración")]

    assert match_area("soporte tecnico", areas) == 1
    assert match_area("ADMINISTRACION ", areas) == 2
    assert match_area("Ventas Mayoristas", areas) is None
    assert match_area("", areas) is None


def test_it_puts_what_the_ticket_has_no_field_for_under_the_description():
    inbound = map_item(fixture("one_ticket.json"), DEFAULT_MAPPING)

    body = ticket_body(inbound)

    assert body.startswith("El cliente indica")
    assert "Department: soporte tecnico" in body
    # The customer's number and WhatsApp have fields of their own, not lines in the body.
    assert "10457" not in body and "+5491155550101" not in body


def test_the_default_mapping_is_a_valid_mapping():
    assert clean_mapping(DEFAULT_MAPPING) == DEFAULT_MAPPING


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"Motivo": "subject"}, "external_id"),
        ({"Numero": "external_id"}, "subject"),
        ({"Numero": "external_id", "Motivo": "subject", "X": "password"}, "X"),
        ({"Numero": "external_id", "Motivo": "subject", " ": "body"}, "mapping"),
        ({"Numero": "external_id", "Motivo": "subject", "número": "body"}, "número"),
        ({"Numero": "external_id", "Motivo": "subject", "N" * 101: "body"}, "N" * 100),
    ],
)
def test_it_refuses_a_mapping_it_could_not_use(mapping, field):
    with pytest.raises(MappingError) as caught:
        clean_mapping(mapping)

    assert field in caught.value.fields


def test_it_refuses_a_mapping_that_is_not_an_object():
    with pytest.raises(MappingError):
        clean_mapping(["Numero de ticket"])


@given(st.text(max_size=40))
def test_normalizing_a_name_twice_changes_nothing(name):
    assert normalize_name(normalize_name(name)) == normalize_name(name)
