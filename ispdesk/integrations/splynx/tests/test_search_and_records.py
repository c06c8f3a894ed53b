"""The search syntax and the typed records (pure, no server)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.integrations.splynx.records import (
    Customer,
    Ticket,
    phone_key,
    same_phone,
    to_datetime,
    to_int,
)
from ispdesk.integrations.splynx.search import Condition, eq, like, search_params
from ispdesk.testing.fakes.splynx import parse_conditions


def test_it_writes_equality_in_the_short_form() -> None:
    assert search_params([eq("customer_id", 7), eq("closed", False)]) == {
        "main_attributes[customer_id]": "7",
        "main_attributes[closed]": "0",
    }


def test_it_writes_operators_in_the_indexed_form_with_order_and_paging() -> None:
    params = search_params(
        [Condition("updated_at", ">=", datetime(2025, 3, 4, 5, 6, 7))],
        order=[("id", "desc")],
        limit=50,
        offset=100,
    )
    assert params == {
        "main_attributes[updated_at][0]": ">=",
        "main_attributes[updated_at][1]": "2025-03-04 05:06:07",
        "order[id]": "DESC",
        "limit": "50",
        "offset": "100",
    }


def test_it_strips_percent_signs_from_like_values() -> None:
    assert search_params([like("phone", "%23456789%")]) == {
        "main_attributes[phone][0]": "LIKE",
        "main_attributes[phone][1]": "23456789",
    }


def test_it_writes_lists_for_in() -> None:
    params = search_params([Condition("status_id", "IN", [1, 3])])
    assert params == {
        "main_attributes[status_id][0]": "IN",
        "main_attributes[status_id][1][0]": "1",
        "main_attributes[status_id][1][1]": "3",
    }


def test_it_refuses_unknown_operators_and_directions() -> None:
    with pytest.raises(ValueError):
        Condition("id", "DROP", 1)
    with pytest.raises(ValueError):
        search_params(order=[("id", "sideways")])


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
            st.sampled_from(["=", "!=", ">=", "<", "LIKE", "IN"]),
            st.one_of(
                st.from_regex(r"[a-z0-9 ]{0,10}", fullmatch=True),
                st.lists(st.integers(0, 999), min_size=1, max_size=4),
            ),
        ),
        max_size=4,
        unique_by=lambda item: item[0],
    )
)
def test_the_fake_reads_back_what_the_client_writes(conditions: list) -> None:
    written = [Condition(field, op, value) for field, op, value in conditions]
    read = parse_conditions(search_params(written))
    expected = [
        (
            field,
            op,
            [str(item) for item in value] if isinstance(value, list) else value,
        )
        for field, op, value in conditions
    ]
    assert sorted(read, key=str) == sorted(expected, key=str)


def test_it_types_the_string_fields_of_a_ticket() -> None:
    ticket = Ticket.from_api(
        {
            "id": "42",
            "customer_id": "0",
            "subject": "Sin internet",
            "status_id": "3",
            "assign_to": "7",
            "closed": "1",
            "trash": "0",
            "created_at": "2025-01-02 10:11:12",
            "updated_at": "0000-00-00 00:00:00",
            "a_field_from_a_later_version": "x",
        }
    )
    assert ticket.id == 42 and ticket.customer_id is None and ticket.assign_to == 7
    assert ticket.closed is True and ticket.trash is False
    assert ticket.created_at == datetime(2025, 1, 2, 10, 11, 12)
    assert ticket.updated_at is None
    assert ticket.group_id is None and ticket.priority == ""


def test_it_parses_numbers_tolerantly() -> None:
    assert [to_int(v) for v in ["12", " 12 ", "12.0", 12, "", None, "abc"]] == [
        12,
        12,
        12,
        12,
        None,
        None,
        None,
    ]
    assert to_datetime("") is None and to_datetime("not a date") is None
    assert to_datetime("2025-02-03") == datetime(2025, 2, 3)


def test_it_ignores_unknown_customer_fields() -> None:
    customer = Customer.from_api({"id": "5", "name": "Ana", "phone": "11 2345-6789", "x": "y"})
    assert (customer.id, customer.name, customer.location_id) == (5, "Ana", None)


@pytest.mark.parametrize(
    "spelling",
    [
        "+5491123456789",
        "5491123456789",
        "011 15 2345-6789",
        "11 2345 6789",
        "1123456789",
        "+54 11 2345-6789",
    ],
)
def test_every_spelling_of_a_number_shares_one_key(spelling: str) -> None:
    assert phone_key(spelling) == "1123456789"


def test_it_finds_a_number_among_several_in_a_free_text_field() -> None:
    field = "3514 55-1234 / 11 15 2345-6789 (celular); fijo 4321-0000"
    assert same_phone("+5491123456789", field)
    assert not same_phone("+5491123456780", field)
    assert not same_phone("123", field)
