"""DNI normalisation: the shapes people type, and what is never a DNI."""

from __future__ import annotations

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from ispdesk.lib.dni import DniError, format_dni, normalize_dni

dni_numbers = st.integers(min_value=1_000_000, max_value=99_999_999)


@pytest.fixture(autouse=True)
def _english():  # type: ignore[no-untyped-def]
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.345.678", "12345678"),
        (" 12345678 ", "12345678"),
        ("12 345 678", "12345678"),
        ("5.123.456", "5123456"),
        ("5123456", "5123456"),
        ("01.234.567", "1234567"),
        ("\t30111222\n", "30111222"),
    ],
)
def test_it_reads_the_shapes_people_write(raw, expected):
    assert normalize_dni(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0", "zero"),
        ("00.000.000", "zero"),
        ("123456", "7 or 8"),
        ("123.456.789", "7 or 8"),
        ("20-12345678-3", "only digits"),
        ("12345678A", "only digits"),
        ("DNI 12345678", "only digits"),
        ("-12345678", "only digits"),
        (".12345678", "only digits"),
        ("١٢٣٤٥٦٧٨", "only digits"),
        ("12,345,678", "only digits"),
    ],
)
def test_it_refuses_what_is_not_a_dni_and_says_why(raw, reason):
    with pytest.raises(DniError) as caught:
        normalize_dni(raw)
    assert reason in caught.value.reason
    assert caught.value.raw == raw


@given(dni_numbers)
def test_the_dotted_form_reads_back_as_the_digits(number):
    assert normalize_dni(format_dni(str(number))) == str(number)


@given(dni_numbers, st.sampled_from([" ", ".", ""]), st.text(" \t", max_size=3))
def test_separators_and_padding_never_change_the_number(number, separator, padding):
    text = str(number)
    # Groups of three from the right, as written on the card.
    grouped = separator.join(
        reversed([text[max(0, end - 3) : end] for end in range(len(text), 0, -3)])
    )
    assert normalize_dni(f"{padding}{grouped}{padding}") == text


@given(st.text(max_size=20))
def test_any_text_gives_seven_or_eight_digits_or_a_dni_error(raw):
    try:
        digits = normalize_dni(raw)
    except DniError as exc:
        assert exc.reason
    else:
        assert digits.isascii() and digits.isdigit()
        assert 7 <= len(digits) <= 8
        assert not digits.startswith("0")


@given(st.integers(min_value=0, max_value=999_999))
def test_numbers_under_a_million_are_refused(number):
    with pytest.raises(DniError):
        normalize_dni(str(number))


def test_format_dni_groups_by_thousands():
    assert format_dni("12345678") == "12.345.678"
    assert format_dni("5123456") == "5.123.456"
