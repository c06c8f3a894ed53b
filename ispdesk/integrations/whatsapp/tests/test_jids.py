from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.integrations.whatsapp.base import GatewayError
from ispdesk.integrations.whatsapp.jids import (
    Identity,
    SendTarget,
    data_url,
    identify,
    is_ignored_chat,
    is_lid,
    jid_to_phone,
    send_target,
    serialized_id,
    unix_time,
)

NOON = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("jid", "phone"),
    [
        ("5491123456789@s.whatsapp.net", "+5491123456789"),
        ("5491123456789@c.us", "+5491123456789"),
        ("5491123456789:12@s.whatsapp.net", "+5491123456789"),
        ("5493515551234@s.whatsapp.net", "+5493515551234"),
        ("16502530000@c.us", "+16502530000"),
        ("5491123456789", "+5491123456789"),
    ],
)
def test_it_reads_phone_jids_as_e164(jid, phone):
    assert jid_to_phone(jid) == phone


@pytest.mark.parametrize(
    ("jid", "phone"),
    [
        ("541123456789@s.whatsapp.net", "+5491123456789"),
        ("541123456789@c.us", "+5491123456789"),
        ("543515551234@s.whatsapp.net", "+5493515551234"),
    ],
)
def test_it_reads_a_12_digit_argentine_jid_as_the_549_mobile(jid, phone):
    assert jid_to_phone(jid) == phone


def test_it_keeps_a_number_the_metadata_does_not_know_as_whatsapp_gave_it():
    assert jid_to_phone("99912345678@c.us") == "+99912345678"


@pytest.mark.parametrize(
    "jid",
    [
        "204617893187734@lid",
        "120363041967849074@g.us",
        "status@broadcast",
        "120363285123456789@newsletter",
        "",
        "no-at-sign",
        "a@b@c",
        "abc@s.whatsapp.net",
        "123@c.us",
    ],
)
def test_it_finds_no_phone_where_there_is_none(jid):
    assert jid_to_phone(jid) == ""


@pytest.mark.parametrize(
    ("jid", "ignored"),
    [
        ("120363041967849074@g.us", True),
        ("status@broadcast", True),
        ("1735732800@broadcast", True),
        ("120363285123456789@newsletter", True),
        ("5491123456789@s.whatsapp.net", False),
        ("204617893187734@lid", False),
        (None, False),
    ],
)
def test_it_tells_groups_and_broadcasts_from_people(jid, ignored):
    assert is_ignored_chat(jid) is ignored


def test_it_recognises_lids_with_a_device_part():
    assert is_lid("204617893187734:3@lid")
    assert not is_lid("5491123456789@s.whatsapp.net")


def test_it_combines_a_lid_chat_with_its_phone_alternative():
    who = identify("204617893187734@lid", "5491123456789@s.whatsapp.net")
    assert who == Identity("204617893187734@lid", "+5491123456789", "204617893187734@lid")


def test_it_combines_a_phone_chat_with_its_lid_alternative():
    who = identify("5491123456789@s.whatsapp.net", "204617893187734@lid")
    assert who == Identity("5491123456789@s.whatsapp.net", "+5491123456789", "204617893187734@lid")


def test_it_leaves_the_phone_empty_for_a_lid_alone():
    assert identify("204617893187734@lid", None, "") == Identity(
        "204617893187734@lid", "", "204617893187734@lid"
    )


@pytest.mark.parametrize(
    ("to", "target"),
    [
        ("+5491123456789", SendTarget("5491123456789")),
        ("+54 9 11 2345-6789", SendTarget("5491123456789")),
        ("5491123456789", SendTarget("5491123456789")),
        ("5491123456789@s.whatsapp.net", SendTarget("5491123456789")),
        ("5491123456789:7@s.whatsapp.net", SendTarget("5491123456789")),
        ("5491123456789@c.us", SendTarget("5491123456789")),
        ("204617893187734@lid", SendTarget("204617893187734@lid", is_lid=True)),
    ],
)
def test_it_sends_to_digits_or_to_the_lid_as_received(to, target):
    assert send_target(to) == target


@pytest.mark.parametrize(
    "to", ["", "   ", "hola", "120363041967849074@g.us", "status@broadcast", "+12", "abc@lid"]
)
def test_it_refuses_recipients_that_are_not_people(to):
    with pytest.raises(GatewayError) as caught:
        send_target(to)
    assert caught.value.permanent
    assert caught.value.code == "bad_recipient"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1735732800, NOON),
        ("1735732800", NOON),
        (1735732800.0, NOON),
        (1735732800000, NOON),
        ({"low": 1735732800, "high": 0, "unsigned": True}, NOON),
        (None, None),
        (True, None),
        (0, None),
        (-5, None),
        ("yesterday", None),
        (float("nan"), None),
        (float("inf"), None),
        ({"low": "x", "high": 0}, None),
        ([1735732800], None),
        (10**30, None),
    ],
)
def test_it_reads_gateway_timestamps(value, expected):
    assert unix_time(value) == expected


def test_it_reads_ids_given_as_strings_or_objects():
    assert serialized_id("false_549@c.us_3EB0") == "false_549@c.us_3EB0"
    assert serialized_id({"_serialized": "false_549@c.us_3EB0", "id": "3EB0"}) == (
        "false_549@c.us_3EB0"
    )
    assert serialized_id({"id": "3EB0"}) == ""
    assert serialized_id(42) == ""


def test_it_makes_data_urls_from_bare_base64():
    assert data_url("iVBORw0KGgo=") == "data:image/png;base64,iVBORw0KGgo="
    assert data_url("data:image/png;base64,iVBORw0KGgo=") == "data:image/png;base64,iVBORw0KGgo="
    assert data_url(None) == ""


@given(st.text(max_size=60))
def test_it_never_fails_on_any_jid_text(text):
    phone = jid_to_phone(text)
    assert phone == "" or (phone.startswith("+") and phone[1:].isdigit())


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40)))
def test_it_never_fails_on_any_timestamp(value):
    when = unix_time(value)
    assert when is None or when.tzinfo is UTC
